"""Data augmentation in the training loop, on the device: each training batch is moved by a random
shift of up to `shift` pixels, flipped left-right with probability one half when `flip` is on, and
turned by up to `rotate` degrees, drawn afresh every batch from a seeded generator, so a seeded run
stays reproducible.

All three are one nearest-pixel gather: for each output pixel, the source pixel it comes from
(turned about the image's centre, flipped, shifted), with sources outside the image taking the
nearest edge pixel. MNIST's edges are background, so a digit moves over blank paper."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import clip
from engine.limits import MAX_WINDOW


def setting_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be augmentation setting `name` ("shift" or "rotate"), or None: the one
    rule for the class, the CLI and the window."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    if name == "shift" and not (whole and 0 <= value <= MAX_WINDOW):
        # further than the largest image side ConvScope trains on moves every image out of sight
        return f"shift must be a whole number of pixels from 0 to {MAX_WINDOW:,}, not {clip(repr(value), 40)}"
    if name == "rotate" and not (isinstance(value, int | float) and 0 <= value <= 180):
        return f"rotate must be between 0 and 180 degrees, not {value!r}"
    return None


@dataclass(frozen=True)
class Augment:
    """What to vary in each training image; the default varies nothing."""

    shift: int = 0
    flip: bool = False
    rotate: float = 0.0
    #: network3's expanded set (:func:`expand`): the training images are five times as many before
    #: any batch is drawn, where shift, flip and rotate vary each batch.
    expand: bool = False

    def __post_init__(self) -> None:
        for name in ("shift", "rotate"):
            if problem := setting_problem(name, getattr(self, name)):
                raise ValueError(problem)

    @property
    def active(self) -> bool:
        """Whether each batch is varied (the expanded set is made once, by :meth:`training_images`)."""
        return bool(self.shift or self.flip or self.rotate)

    def training_images(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training images and labels to draw batches from: network3's expanded set when
        `expand` is on, else `x` and `y` as they are."""
        return expand(x, y) if self.expand else (x, y)

    def describe(self) -> str:
        """"expanded ×5, shift 2 px, flip, rotate 10°", or "" when nothing is varied: for run names
        and messages."""
        parts = ["expanded ×5"] if self.expand else []
        parts += [f"shift {self.shift} px"] if self.shift else []
        parts += ["flip"] if self.flip else []
        parts += [f"rotate {self.rotate:g}°"] if self.rotate else []
        return ", ".join(parts)

    def apply(self, xp: Any, x: Any, rng: Any) -> Any:
        """The batch `x` (N, C, H, W) on the device, each image varied independently by `rng`."""
        n, _, h, w = x.shape
        rows = xp.arange(h, dtype=np.float32)[None, :, None] - (h - 1) / 2
        cols = xp.arange(w, dtype=np.float32)[None, None, :] - (w - 1) / 2
        if self.rotate:
            angle = rng.uniform(-self.rotate, self.rotate, n).astype(np.float32) * (math.pi / 180)
            cos, sin = xp.cos(angle)[:, None, None], xp.sin(angle)[:, None, None]
            rows, cols = cos * rows - sin * cols, sin * rows + cos * cols
        else:
            rows, cols = xp.broadcast_to(rows, (n, h, 1)), xp.broadcast_to(cols, (n, 1, w))
        if self.flip:
            cols = cols * xp.where(rng.random_sample(n) < 0.5, -1, 1).astype(np.float32)[:, None, None]
        if self.shift:
            rows = rows - rng.randint(-self.shift, self.shift + 1, n).astype(np.float32)[:, None, None]
            cols = cols - rng.randint(-self.shift, self.shift + 1, n).astype(np.float32)[:, None, None]
        src_r = xp.clip(xp.rint(rows + (h - 1) / 2), 0, h - 1).astype(np.int64)
        src_c = xp.clip(xp.rint(cols + (w - 1) / 2), 0, w - 1).astype(np.int64)
        src_r, src_c = xp.broadcast_arrays(src_r, src_c)
        picked = x[xp.arange(n)[:, None, None], :, src_r, src_c]  # (N, H, W, C)
        return xp.ascontiguousarray(picked.transpose(0, 3, 1, 2))


def expand(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """network3's "expanded" MNIST: every image, then four copies moved one pixel up, down, left
    and right (vacated pixels blank), five times the images in all."""
    copies = [x]
    for axis, step in ((2, -1), (2, 1), (3, -1), (3, 1)):
        moved = np.roll(x, step, axis=axis)
        edge = [slice(None)] * 4
        edge[axis] = 0 if step == 1 else -1
        moved[tuple(edge)] = 0
        copies.append(moved)
    return np.concatenate(copies), np.tile(y, 5)
