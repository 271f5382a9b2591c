"""Tiling many small images into one array, so a view draws one ImageItem instead of hundreds
(one item per tile is about seven times slower to update)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_limit(value: float) -> float:
    """`value` rounded up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k: a colour bar over
    ±nice_limit(max |w|) relabels its axis (the dearest part of the view's repaint) a few times a
    run rather than at every update, and its ticks fall on round numbers."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    return next(step * scale for step in NICE_STEPS if step * scale >= value * (1 - 1e-9))


def nice_levels(low: float, high: float) -> tuple[float, float]:
    """Colour levels for values from `low` to `high`: from zero (or a round number below it) to
    a round number above, so a colour bar beside the maps keeps its labels across updates."""
    bottom = 0.0 if not low < 0 else -nice_limit(-low)
    top = nice_limit(high) if high > 0 else 0.0
    return (bottom, top) if top > bottom else (bottom, bottom + 1.0)


def grid_columns(count: int, width: float, height: float, cell: tuple[float, float] = (1.0, 1.0)) -> int:
    """How many columns make `count` cells of `cell` (height, width) largest in a width × height
    area, so a grid fills its view instead of leaving a strip beside it."""
    ch, cw = cell
    return max(
        range(1, count + 1),
        key=lambda cols: min(width / (cols * cw), height / (math.ceil(count / cols) * ch)),
    )


@dataclass(frozen=True)
class Mosaic:
    """Tiles laid out in a grid of cells, row by row, with NaN (drawn transparent) in the gaps;
    a cell holds `parts` tiles side by side, one pixel apart (one filter's input channels)."""

    image: np.ndarray  # (H, W) or (H, W, 3)
    tile_shape: tuple[int, int]
    cols: int
    count: int  # tiles
    gap: int  # between cells
    parts: int = 1

    @property
    def cell_width(self) -> int:
        return self.parts * (self.tile_shape[1] + 1) - 1

    def locate(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(tile index, row, column within the tile) under image coordinates (x, y), or None
        over a gap or outside."""
        if x < 0 or y < 0:
            return None
        th, tw = self.tile_shape
        col, cx = divmod(int(x), self.cell_width + self.gap)
        row, cy = divmod(int(y), th + self.gap)
        part, px = divmod(cx, tw + 1)
        index = (row * self.cols + col) * self.parts + part
        if cx >= self.cell_width or px >= tw or cy >= th or col >= self.cols or index >= self.count:
            return None
        return index, cy, px

    def tile_at(self, x: float, y: float) -> int | None:
        """The index of the tile under image coordinates (x, y), or None over a gap or outside."""
        found = self.locate(x, y)
        return None if found is None else found[0]

    def tile(self, index: int) -> np.ndarray:
        th, tw = self.tile_shape
        cell, part = divmod(index, self.parts)
        row, col = divmod(cell, self.cols)
        top, left = row * (th + self.gap), col * (self.cell_width + self.gap) + part * (tw + 1)
        return self.image[top : top + th, left : left + tw]


def tile(tiles: np.ndarray, cols: int | None = None, gap: int = 1, parts: int = 1) -> Mosaic:
    """Lay out (N, h, w) or (N, h, w, 3) tiles, `parts` to a cell, in cells `cols` wide (nearly
    square when not given)."""
    n, th, tw = tiles.shape[:3]
    if parts > 1:  # each cell: its parts side by side, a NaN column after each
        padded = np.full((n, th, tw + 1, *tiles.shape[3:]), np.nan, dtype=np.float32)
        padded[:, :, :tw] = tiles
        cells = padded.reshape(n // parts, parts, th, tw + 1, *tiles.shape[3:]).swapaxes(1, 2)
        tiles = cells.reshape(n // parts, th, parts * (tw + 1), *tiles.shape[3:])[:, :, :-1]
    cells_count, cw = tiles.shape[0], tiles.shape[2]
    cols = max(1, min(cells_count, cols or math.ceil(math.sqrt(cells_count))))
    rows = math.ceil(cells_count / cols)
    grid = np.full((rows * cols, th + gap, cw + gap, *tiles.shape[3:]), np.nan, dtype=np.float32)
    grid[:cells_count, :th, :cw] = tiles
    grid = grid.reshape(rows, cols, th + gap, cw + gap, *tiles.shape[3:]).swapaxes(1, 2)
    image = grid.reshape(rows * (th + gap), cols * (cw + gap), *tiles.shape[3:])
    return Mosaic(
        np.ascontiguousarray(image[: image.shape[0] - gap, : image.shape[1] - gap]),
        (th, tw),
        cols,
        n,
        gap,
        parts,
    )


#: Pixels between two filters' cells when each holds several channels (channels are one apart).
FILTER_GAP = 3


def filter_cell(weight_shape: tuple[int, ...], rgb: bool) -> tuple[int, int, int]:
    """(cells, cell height, cell width with its gap) of a conv weight's mosaic: the shape the
    view chooses its columns for."""
    f, c, kh, kw = weight_shape
    if (rgb and c == 3) or c == 1:
        return f, kh + 1, kw + 1
    return f, kh + FILTER_GAP, c * (kw + 1) - 1 + FILTER_GAP


def filter_mosaic(weight: np.ndarray, rgb: bool, cols: int | None = None) -> tuple[Mosaic, int]:
    """A conv weight (F, C, kh, kw) as tiles `cols` cells wide, and how many channel tiles each
    filter has.

    RGB filters become one colour tile each, single-channel filters one grey tile each;
    otherwise each cell is one filter, its input channels side by side."""
    f, c = weight.shape[:2]
    if rgb and c == 3:
        return tile(weight.transpose(0, 2, 3, 1), cols), 1
    if c == 1:
        return tile(weight[:, 0], cols), 1
    return tile(weight.reshape(f * c, *weight.shape[2:]), cols, gap=FILTER_GAP, parts=c), c


def map_mosaic(maps: np.ndarray) -> Mosaic:
    """One sample's feature maps (C, H, W) as a square grid; dense activations (units,) as a
    gapless block of pixels."""
    if maps.ndim == 1:
        return tile(maps.reshape(-1, 1, 1), cols=math.ceil(math.sqrt(maps.size)), gap=0)
    return tile(maps)
