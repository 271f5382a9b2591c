"""pyqtgraph views that Qt paints with the GIL released.

pyqtgraph's views override `paintEvent` in Python to prepare their scene, so every repaint runs
inside a Python call and holds the GIL throughout, C++ parts and cached pixmaps included; the
training worker needs the GIL between NumPy calls and waits. These views prepare the scene from
an event filter instead, which returns before Qt paints: only the items that paint in Python
take the GIL, one call at a time (tests/benchmarks/README.md has the measurements). The image
panel that the filter and feature-map views draw in lives here too."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QGraphicsView

from gui import theme

theme.apply()  # before any of the views below is made

class _PrepareBeforePaint(QObject):
    def __init__(self, view: pg.GraphicsView):
        super().__init__(view)
        self._view = view

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self._view.scene().prepareForPaint()
        return False


class _PaintedByQt:
    """Mixin for a `pg.GraphicsView` subclass; comes first in its bases."""

    # A C++ method, not a Python function: PySide6 then sees no override and Qt paints directly.
    paintEvent = QGraphicsView.paintEvent

    def __init__(self: pg.GraphicsView, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewport().installEventFilter(_PrepareBeforePaint(self))


class PlotWidget(_PaintedByQt, pg.PlotWidget):
    pass
