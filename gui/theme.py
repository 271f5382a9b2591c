"""The one look every plot shares: light background, dark text, a few named colours, and the
colour maps that images are drawn through.

pyqtgraph is imported only by what draws with it (gui.canvas sets its options): the window's
first paint needs none of it (tests/gui/test_startup_imports.py)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

BACKGROUND = "#ffffff"
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
    return QColor.fromHsv(360 * (place % runs) // runs, 255, 200)  # hues round the circle


def apply() -> None:
    """Set pyqtgraph's global options; gui.canvas calls it as it imports pyqtgraph, before any
    plot widget is made."""
    import pyqtgraph as pg

    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=True)


@functools.cache
def colour_table(name: str) -> np.ndarray:
    """The colour map `name` as 256 RGB bytes, read from pyqtgraph's colour-map files (the
    colour bars of the pyqtgraph views draw the same maps) without importing pyqtgraph."""
    spec = importlib.util.find_spec("pyqtgraph")
    assert spec is not None and spec.submodule_search_locations, "pyqtgraph is a dependency"
    text = (Path(spec.submodule_search_locations[0]) / "colors" / "maps" / f"{name}.csv").read_text()
    stops = [
        [int(255 * float(c) + 0.5) for c in line.split(";")[0].split(",")[:3]]
        for line in text.splitlines()
        if line.strip() and not line.startswith(";")
    ]
    at = np.linspace(0.0, 1.0, len(stops))
    table = np.array(stops, dtype=np.float64)
    places = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(places, at, table[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


@functools.cache
def _argb_table(name: str) -> np.ndarray:
    """The colour map `name` as 256 opaque ARGB32 pixels (0xAARRGGBB)."""
    rgb = colour_table(name).astype(np.uint32)
    return 0xFF000000 | rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]


def to_argb(values: np.ndarray, levels: tuple[float, float], colormap: str | None) -> np.ndarray:
    """ARGB32 pixels (0xAARRGGBB, uint32) of `values` drawn over `levels`: (H, W) through the
    colour map `colormap`, (H, W, 3) as colours with each channel scaled over the levels
    (`colormap` None); NaN is transparent (0). Every image and table drawn with a colour map
    gets its colours here."""
    low, high = levels
    scale = 1.0 / ((high - low) or 1.0)
    values = np.asarray(values, dtype=np.float32)
    if colormap is None:
        channels = np.clip((values - low) * (255.0 * scale) + 0.5, 0, 255)
        missing = np.isnan(channels).any(axis=-1)
        rgb = np.nan_to_num(channels).astype(np.uint32)
        pixels = 0xFF000000 | rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    else:
        index = (values - low) * (256.0 * scale)
        missing = np.isnan(index)
        np.clip(index, 0, 255, out=index)
        index[missing] = 0
        pixels = _argb_table(colormap)[index.astype(np.uint8)]
    pixels[missing] = 0
    return pixels


def to_rgba(values: np.ndarray, levels: tuple[float, float], colormap: str | None) -> np.ndarray:
    """The same colours as RGBA bytes (H, W, 4)."""
    pixels = to_argb(values, levels, colormap)
    return (pixels[..., None] >> np.array([16, 8, 0, 24], dtype=np.uint32) & 0xFF).astype(np.uint8)
