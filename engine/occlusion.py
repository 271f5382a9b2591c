"""Where the network looks, by occlusion: a grey patch slides over the input, and each pixel is
scored by how far the probability of a class drops while the patch covers it."""

from __future__ import annotations

from typing import Any

from engine.explain import Axis


def occlusion_map(
    network: Any,
    x: Any,
    *,
    patch: int = 4,
    stride: int = 2,
    target: int | None = None,
    fill: float | None = None,
) -> tuple[Any, int]:
    """(map, class) for one input `x` (C, H, W): the map (H, W), on the device, holds for each
    pixel the mean drop of class `class`'s probability over the patch positions covering it
    (0 for a pixel no patch covers). The class is `target`, or the one predicted for `x`. The
    patch is `patch`×`patch` pixels of `fill` (default: half-way between the image's darkest
    and lightest value, a grey), stepping by `stride`."""
    xp = network.xp
    x = network.backend.to_device(x, dtype=network.dtype)
    _, h, w = x.shape
    rows, cols = Axis(h, min(patch, h), stride), Axis(w, min(patch, w), stride)
    if fill is None:
        fill = (x.min() + x.max()) / 2
    base = network.forward(x[None])[0][0]
    cls = int(base.argmax()) if target is None else target
    positions = [(rows.start(i), cols.start(j)) for i in range(rows.out) for j in range(cols.out)]
    drops = xp.empty(len(positions), dtype=network.dtype)
    chunk = network.memory.inference_rows(64)
    for first in range(0, len(positions), chunk):
        part = positions[first : first + chunk]
        batch = xp.repeat(x[None], len(part), axis=0)
        for b, (r, c) in enumerate(part):
            batch[b, :, r : r + rows.k, c : c + cols.k] = fill
        drops[first : first + len(part)] = base[cls] - network.forward(batch)[0][:, cls]
    total = xp.zeros((h, w), dtype=network.dtype)
    count = xp.zeros((h, w), dtype=network.dtype)
    for d, (r, c) in enumerate(positions):
        total[r : r + rows.k, c : c + cols.k] += drops[d]
        count[r : r + rows.k, c : c + cols.k] += 1
    return total / xp.maximum(count, 1), cls
