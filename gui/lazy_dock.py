"""Docks that make their contents when first shown.

A dock hidden at start need not cost the window's start anything but its title and its place in
the menus: its widgets (and the modules only they use) are made the first time it is shown, by
whatever shows it (its menu entry, `show()`, a test), before Qt shows it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

#: A dock's share of the window when the user first opens it, as far as the window's own least
#: size allows: Qt gave a new dock at the bottom half the window's height (the plots above were
#: left 68 px of 900) and one at the side little width (347 px of 1920).
FIRST_SHARE = 0.3


class BuiltWhenShown(QDockWidget):
    """A dock whose `_build`, which each subclass defines, runs once just before it is first
    shown; `built` says whether it ran."""

    built = False
    _build: Callable[[], None]

    def setVisible(self, visible: bool) -> None:
        first = visible and not self.built
        if first:
            self.built = True
            self._build()
        super().setVisible(visible)
        window = self.parentWidget()
        if first and isinstance(window, QMainWindow) and window.isVisible():
            # opened by the user (a dock the saved layout shows keeps the size it was left at)
            QTimer.singleShot(0, lambda: self._take_first_share(window))  # once laid out

    def _take_first_share(self, window: QMainWindow) -> None:
        area = window.dockWidgetArea(self)
        if area in (Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea):
            window.resizeDocks([self], [int(window.height() * FIRST_SHARE)], Qt.Orientation.Vertical)
        else:
            window.resizeDocks([self], [int(window.width() * FIRST_SHARE)], Qt.Orientation.Horizontal)
