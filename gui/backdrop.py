"""The plots' background as a plain Qt widget: behind the drawings made without pyqtgraph (the
filter view's), and in the places of pyqtgraph views not made yet (the window makes those after
its first show). It asks for space as a pyqtgraph view does, so the splitters share the window
out as they do with the views."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme


class Backdrop(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(theme.BACKGROUND))
        self.setPalette(palette)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        """A pyqtgraph view's (QGraphicsView's, over a scene as large as the view): its size now,
        at most three quarters of the screen."""
        screen = self.screen()
        return self.size() if screen is None else self.size().boundedTo(screen.virtualSize() * 3 / 4)
