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


@dataclass(frozen=True)
class Mosaic:
    """Tiles laid out row by row in a grid, with NaN (drawn transparent) in the gaps."""

    image: np.ndarray  # (H, W) or (H, W, 3)
    tile_shape: tuple[int, int]
    cols: int
    count: int
    gap: int

    def tile_at(self, x: float, y: float) -> int | None:
        """The index of the tile under image coordinates (x, y), or None over a gap or outside."""
        if x < 0 or y < 0:
            return None
        th, tw = self.tile_shape
        col, cx = divmod(int(x), tw + self.gap)
        row, cy = divmod(int(y), th + self.gap)
        index = row * self.cols + col
        if cx >= tw or cy >= th or col >= self.cols or index >= self.count:
            return None
        return index

    def tile(self, index: int) -> np.ndarray:
        th, tw = self.tile_shape
        row, col = divmod(index, self.cols)
        top, left = row * (th + self.gap), col * (tw + self.gap)
        return self.image[top : top + th, left : left + tw]


def tile(tiles: np.ndarray, cols: int | None = None, gap: int = 1) -> Mosaic:
    """Lay out (N, h, w) or (N, h, w, 3) tiles `cols` wide (nearly square when not given)."""
    n, th, tw = tiles.shape[:3]
    cols = max(1, min(n, cols or math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    grid = np.full((rows * cols, th + gap, tw + gap, *tiles.shape[3:]), np.nan, dtype=np.float32)
    grid[:n, :th, :tw] = tiles
    grid = grid.reshape(rows, cols, th + gap, tw + gap, *tiles.shape[3:]).swapaxes(1, 2)
    image = grid.reshape(rows * (th + gap), cols * (tw + gap), *tiles.shape[3:])
    return Mosaic(
        np.ascontiguousarray(image[: image.shape[0] - gap, : image.shape[1] - gap]), (th, tw), cols, n, gap
    )


def filter_mosaic(weight: np.ndarray, rgb: bool) -> tuple[Mosaic, int]:
    """A conv weight (F, C, kh, kw) as tiles, and how many channel tiles each filter has.

    RGB filters become one colour tile each; single-channel filters one grey tile each, in a
    square grid; otherwise each row is one filter and each column one input channel."""
    f, c = weight.shape[:2]
    if rgb and c == 3:
        return tile(weight.transpose(0, 2, 3, 1)), 1
    if c == 1:
        return tile(weight[:, 0]), 1
    return tile(weight.reshape(f * c, *weight.shape[2:]), cols=c), c


def map_mosaic(maps: np.ndarray) -> Mosaic:
    """One sample's feature maps (C, H, W) as a square grid; dense activations (units,) as a
    gapless block of pixels."""
    if maps.ndim == 1:
        return tile(maps.reshape(-1, 1, 1), cols=math.ceil(math.sqrt(maps.size)), gap=0)
    return tile(maps)
