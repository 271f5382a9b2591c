"""The Runs dock's overlaid curves: each picked run's loss and accuracy over its epochs in a
colour of its own (validation solid with its points, training dashed) with a legend. pyqtgraph
plots, made when the dock is first shown (gui.runs_dock)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from gui import theme
from gui.canvas import PlotWidget
from gui.naming import named
from gui.plain_text import escaped
from gui.plots import epoch_ticks
from gui.runs_model import Curves

#: The line styles' legend entries, in a neutral grey, before the runs' own.
STYLES = (("solid: validation", Qt.PenStyle.SolidLine), ("dashed: training", Qt.PenStyle.DashLine))


def curve_plot(name: str, title: str, y_label: str, legend_at_top: bool) -> PlotWidget:
    """`legend_at_top` False: bottom right, where rising curves leave room."""
    widget = named(PlotWidget(), name)
    item = widget.getPlotItem()
    item.setTitle(title, size="9pt")
    item.setLabel("bottom", "epoch")
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.addLegend(offset=(-10, 10 if legend_at_top else -10))
    return widget


def draw_curves(loss_plot: PlotWidget, accuracy_plot: PlotWidget, curves: list[Curves]) -> None:
    """Draw `curves` (the picked runs') anew in both plots."""
    for widget in (loss_plot, accuracy_plot):
        item = widget.getPlotItem()
        item.clear()  # its legend's entries too
        if curves:
            for name, style in STYLES:
                item.plot([], [], pen=pg.mkPen(theme.NEUTRAL, width=1.5, style=style), name=name)
    for c in curves:
        colour = theme.run_colour(c.colour, len(curves))
        solid, dashed = pg.mkPen(colour, width=2), pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
        symbols = {"symbol": "o", "symbolSize": 5, "symbolBrush": colour, "symbolPen": None}
        for widget, train, val, scale in (
            (loss_plot, c.train_loss, c.val_loss, 1.0),
            (accuracy_plot, c.train_acc, c.val_acc, 100.0),
        ):
            item = widget.getPlotItem()
            shown = np.isfinite(val)
            item.plot(c.epochs[shown], scale * val[shown], pen=solid, name=escaped(c.name), **symbols)
            item.plot(c.epochs, scale * train, pen=dashed)
    last = int(max((c.epochs.max(initial=1) for c in curves), default=1))
    for widget in (loss_plot, accuracy_plot):  # whole epochs only
        widget.getPlotItem().getAxis("bottom").setTicks([[(t, str(t)) for t in epoch_ticks(last)], []])
