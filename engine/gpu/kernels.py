"""Fused elementwise kernels for the training step's hot spots on CuPy: each replaces a chain of
array operations, one kernel launch (and one pass over memory) per chain. A backend offers them
as `Backend.fused`; where it offers none, the same arithmetic runs as plain array operations."""

from __future__ import annotations

from typing import Any

import cupy

#: velocity = momentum·velocity + grad + l2·param; param -= lr·velocity (SGD with momentum).
_sgd_momentum = cupy.ElementwiseKernel(
    "T grad, T lr, T momentum, T l2",
    "T param, T velocity",
    "velocity = momentum * velocity + (grad + l2 * param); param -= lr * velocity;",
    "convscope_sgd_momentum",
)
#: param -= lr·(grad + l2·param) (SGD without momentum).
_sgd_plain = cupy.ElementwiseKernel(
    "T grad, T lr, T l2",
    "T param",
    "param -= lr * (grad + l2 * param);",
    "convscope_sgd_plain",
)
_bias_relu = cupy.ElementwiseKernel(
    "T bias", "T z", "z = max(z + bias, (T)0);", "convscope_bias_relu"
)

#: The activations `bias_activation` fuses.
ACTIVATIONS = ("relu",)


def sgd(param: Any, grad: Any, velocity: Any, lr: Any, momentum: float, l2: float) -> None:
    """One SGD update of `param` in place (and of `velocity`, None without momentum); `lr` a
    number or a 0-d device array, so a captured step reads the current rate."""
    dtype = param.dtype.type
    if not hasattr(lr, "dtype"):
        lr = dtype(lr)
    if velocity is None:
        _sgd_plain(grad, lr, dtype(l2), param)
    else:
        _sgd_momentum(grad, lr, dtype(momentum), dtype(l2), param, velocity)


def bias_activation(z: Any, bias: Any, activation: str) -> Any:
    """relu(z + bias) in place, the bias broadcast along the last axis."""
    if activation != "relu":
        raise ValueError(f"no fused kernel for {activation!r}")
    _bias_relu(bias, z)
    return z
