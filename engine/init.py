"""Initial parameter values: network3's scheme or He's, drawn on the host from one generator so
every device starts from the same weights for a given seed."""

from __future__ import annotations

import math

import numpy as np

from engine.spec import LayerInfo

INITS = ("network3", "he")


def check_init(init: str) -> None:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r} (choose one of {', '.join(INITS)})")


def initial_values(
    init: str,
    info: LayerInfo,
    shapes: dict[str, tuple[int, ...]],
    after: LayerInfo | None,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Values for one layer's parameters of `shapes`; `after` is the next layer, whose pool
    shares a conv layer's outputs out in network3's scheme.

    network3: weights N(0, 1/n_out), biases N(0, 1), softmax zeros. He: weights N(0, 2/fan_in),
    biases zero."""
    if not shapes:
        return {}
    if info.type == "softmax":
        return {k: np.zeros(s) for k, s in shapes.items()}
    w_shape = shapes["weight"]
    if init == "he":
        fan_in = int(np.prod(w_shape[1:]))
        return {
            "weight": rng.normal(0.0, np.sqrt(2.0 / fan_in), w_shape),
            "bias": np.zeros(shapes["bias"]),
        }
    if info.type == "conv":
        pool_area = math.prod(after.layer["size"]) if after is not None and after.type == "pool" else 1
        n_out = w_shape[0] * w_shape[2] * w_shape[3] / pool_area
    else:
        n_out = w_shape[0]
    return {
        "weight": rng.normal(0.0, np.sqrt(1.0 / n_out), w_shape),
        "bias": rng.normal(0.0, 1.0, shapes["bias"]),
    }
