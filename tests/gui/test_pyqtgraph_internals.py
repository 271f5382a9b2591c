"""The pyqtgraph internals the plots rely on, each checked by what it does, so an upgrade that
changes one fails here, by name, instead of as a blank legend or a wrong range. pyqtgraph is
pinned below its next minor version (pyproject.toml) until these pass on it."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPen

from gui.canvas import PlotWidget
from gui.plots import _PathCurve


def _plot_with_path_curve(shown, colour: str = "#ff0000") -> tuple[pg.PlotItem, _PathCurve]:
    widget = shown(PlotWidget(), 400, 300)
    item = widget.getPlotItem()
    legend = item.addLegend(offset=(10, 10))
    curve = _PathCurve(QPen(QColor(colour), 3))
    item.addItem(curve)
    legend.addItem(curve, "loss")
    return item, curve


def test_legend_items_are_sample_and_label_pairs(shown):
    """`LegendItem.items`: the plots cache each label's drawing."""
    item, curve = _plot_with_path_curve(shown)
    ((sample, label),) = item.legend.items
    assert isinstance(label, pg.LabelItem) and label.text == "loss"
    assert sample.item is curve


def test_the_legend_draws_a_curves_sample_with_the_pen_in_its_opts(shown):
    """`opts["pen"]`: the only thing a legend sample reads from a curve that Qt draws."""
    item, curve = _plot_with_path_curve(shown)  # the curve has no points: red can only be the sample
    image = item.getViewWidget().grab().toImage()
    pixels = np.array(
        [
            [image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())]
            for y in range(0, image.height(), 2)
        ]
    )
    assert ((pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)).any()


def test_auto_range_asks_each_item_for_its_data_bounds(shown):
    """`dataBounds(axis, frac, orthoRange)`: the loss curve's whole extent, not the points in view."""
    item, curve = _plot_with_path_curve(shown)
    curve.bounds = ((0.0, 40.0), (0.0, 7.0))
    item.getViewBox().autoRange()
    (x_low, x_high), (y_low, y_high) = item.getViewBox().viewRange()
    assert x_low <= 0 and x_high >= 40 and y_low <= 0 and y_high >= 7


def test_the_scene_applies_auto_range_in_prepare_for_paint(shown):
    """`GraphicsScene.prepareForPaint`: the views call it from an event filter, not paintEvent."""
    widget = shown(pg.PlotWidget(), 300, 200)
    plot = widget.getPlotItem()
    plot.plot([0.0, 10.0], [0.0, 50.0])
    widget.scene().prepareForPaint()
    (x_low, x_high), (y_low, y_high) = plot.getViewBox().viewRange()
    assert x_low <= 0 and x_high >= 10 and y_low <= 0 and y_high >= 50
