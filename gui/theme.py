"""The one look every plot shares: light background, dark text, a few named colours."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

BACKGROUND = "w"
FOREGROUND = "#303030"
TRAIN = "#1f77b4"
TRAIN_FAINT = (31, 119, 180, 70)
VALIDATION = "#d62728"
CORRECT = "#2ca02c"
WRONG = "#d62728"
NEUTRAL = "#8fa8c8"
#: The runs compared side by side (Okabe and Ito's colour-blind-safe set, its yellow left out).
RUN_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
#: A comparison row whose values differ between the runs.
DIFFERS = "#fff2c2"
FILTER_COLORMAP = "CET-D1"  # diverging: blue below zero, white at zero, red above
MAP_COLORMAP = "viridis"


def cache(*items: QGraphicsItem) -> None:
    """Keep each item and its children (axes, labels) as pixmaps until they change: a live curve
    repaints everything under it, and replaying an axis's or a label's antialiased text costs more
    than the curve itself."""
    stack = list(items)
    while stack:
        item = stack.pop()
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        stack.extend(item.childItems())


def run_colour(place: int, runs: int) -> QColor:
    """The colour of the run at `place` among `runs` compared: distinct from the others'."""
    if runs <= len(RUN_COLOURS):
        return QColor(RUN_COLOURS[place])
    return pg.intColor(place, hues=runs, values=1, maxValue=200)


def apply() -> None:
    """Set pyqtgraph's global options; call before the first plot widget is made."""
    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=True)
