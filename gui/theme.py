"""The one look every plot shares: light background, dark text, a few named colours."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

BACKGROUND = "w"
FOREGROUND = "#303030"
TRAIN = "#1f77b4"
TRAIN_FAINT = (31, 119, 180, 70)
VALIDATION = "#d62728"
CORRECT = "#2ca02c"
WRONG = "#d62728"
NEUTRAL = "#8fa8c8"
FILTER_COLORMAP = "CET-D1"  # diverging: blue below zero, white at zero, red above
MAP_COLORMAP = "viridis"


def cache_axes(*axes: pg.AxisItem) -> None:
    """Keep each axis as a pixmap until its range or ticks change: replaying an axis's antialiased
    text costs several milliseconds per repaint, the largest part of a live plot's redraw."""
    for axis in axes:
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def apply() -> None:
    """Set pyqtgraph's global options; call before the first plot widget is made."""
    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=True)
