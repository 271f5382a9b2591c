"""A user's own input for the network: a drawing, or an image file, turned into the array the
network sees. For a 1×28×28 network the drawing is prepared the way MNIST's digits were: the
ink fitted into a 20×20 box, centred by its centre of mass in a 28×28 frame. Then the data
set's normalisation, as its own images had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.image_folder import decode_image

MNIST_SHAPE = (1, 28, 28)
MNIST_BOX = 20


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) float pixels resized by area averaging (Pillow's box filter): antialiased, as
    MNIST's digits were, and without the overshoot of a windowed sinc."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BOX), dtype=np.float32)


def mnist_frame(ink: np.ndarray) -> np.ndarray:
    """(28, 28) from ink (H, W) in [0, 1]: the ink's bounding box scaled to fit 20×20 (aspect
    kept), placed so its centre of mass is the frame's centre (as far as it stays inside)."""
    frame = np.zeros(MNIST_SHAPE[1:], dtype=np.float32)
    rows, cols = np.nonzero(ink > 0)
    if rows.size == 0:
        return frame
    box = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = MNIST_BOX / max(box.shape)
    h, w = max(round(box.shape[0] * scale), 1), max(round(box.shape[1] * scale), 1)
    digit = np.clip(_resize(box, h, w), 0.0, 1.0)
    total = digit.sum()
    if total == 0:
        return frame
    cy = (digit.sum(axis=1) * np.arange(h)).sum() / total
    cx = (digit.sum(axis=0) * np.arange(w)).sum() / total
    centre = MNIST_SHAPE[1] / 2  # where MNIST has it: pixel (14, 14), by the data set's own means
    top = int(np.clip(round(centre - cy), 0, MNIST_SHAPE[1] - h))
    left = int(np.clip(round(centre - cx), 0, MNIST_SHAPE[2] - w))
    frame[top : top + h, left : left + w] = digit
    return frame


def normalized(image: np.ndarray, normalization: Any) -> np.ndarray:
    """(C, H, W) pixels in [0, 1] standardised with the data set's (means, stds), if it has them."""
    out = image.astype(np.float32, copy=True)
    if normalization is not None:
        for c, (mean, std) in enumerate(zip(*normalization, strict=True)):
            out[c] -= np.float32(mean)
            out[c] /= np.float32(std)
    return out


def prepare_drawing(
    ink: np.ndarray, input_shape: tuple[int, int, int], normalization: Any = None
) -> np.ndarray:
    """The network's input (C, H, W) from a drawing: ink (H', W') in [0, 1], or (3, H', W')
    colour. A 1×28×28 network gets MNIST's framing; others the drawing scaled to their size,
    grey ink copied to every channel, colour averaged for a grey network."""
    c, h, w = input_shape
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim == 3:
        planes = ink if c == 3 else ink.mean(axis=0, keepdims=True)
    else:
        planes = ink[None]
    if tuple(input_shape) == MNIST_SHAPE:
        image = mnist_frame(planes[0])[None]
    else:
        image = np.stack([np.clip(_resize(p, h, w), 0.0, 1.0) for p in planes])
        image = np.broadcast_to(image, (c, h, w))
    return normalized(image, normalization)


def load_image(path: str | Path, input_shape: tuple[int, int, int], normalization: Any = None) -> np.ndarray:
    """An image file as the network's input, read by the image-folder loader's own decoder
    (grey or RGB as the network wants, resized to its input)."""
    c, h, w = input_shape
    pixels = decode_image(Path(path), c == 1, (w, h)).astype(np.float32) / 255.0
    return normalized(np.broadcast_to(pixels, (c, h, w)), normalization)
