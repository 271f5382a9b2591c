"""The views Qt paints with the GIL released: another Python thread runs while they paint, and
their scene is still prepared (auto-range applied) before every paint."""

import numpy as np
import pyqtgraph as pg
from gil_probe import gil_held, run_event_loop
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem

from gui.canvas import PlotWidget


def _gil_held_while_painting(shown, view: pg.PlotWidget) -> float:
    """CPU seconds the GUI thread held the GIL while `view` painted a slow path: time another
    Python thread (the trainer) could not run."""
    x, y = np.random.default_rng(0).random((2, 200_000))
    item = QGraphicsPathItem(pg.arrayToQPath(x, y))  # painted by C++ alone
    item.setPen(QPen(pg.mkColor("k"), 0))
    view.getPlotItem().addItem(item)
    shown(view, 400, 300)
    run_event_loop(200)
    held = gil_held(view.viewport().update)
    view.hide()  # a view left on screen repaints while the next one is measured
    return held


def test_another_thread_runs_while_qt_paints(shown):
    held = _gil_held_while_painting(shown, pg.PlotWidget())  # pyqtgraph's own: paints in Python
    released = _gil_held_while_painting(shown, PlotWidget())
    assert held > 0.05, "the path paints too fast to tell"
    assert released < held / 4, (released, held)


def test_the_scene_is_prepared_before_each_paint(shown):
    """pyqtgraph applies auto-range only when the scene is prepared for painting."""
    view = PlotWidget()
    plot = view.getPlotItem()
    shown(view, 300, 200)
    plot.plot([0.0, 10.0], [0.0, 50.0])
    view.grab()
    (x_low, x_high), (y_low, y_high) = plot.getViewBox().viewRange()
    assert x_low <= 0 and x_high >= 10 and y_low <= 0 and y_high >= 50
