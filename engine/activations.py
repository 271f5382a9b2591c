"""Activation functions, each with its derivative written in terms of its own output, so a layer
keeps only its activated output for the backward pass."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, name: str, z: Any) -> Any:
    """Apply activation `name` to `z` in place where the module allows, and return the result."""
    if name == "relu":
        return xp.maximum(z, 0, out=z)
    if name == "sigmoid":
        # 1 / (1 + exp(-z)) via tanh: no overflow warning for large |z|.
        xp.multiply(z, 0.5, out=z)
        xp.tanh(z, out=z)
        xp.multiply(z, 0.5, out=z)
        return xp.add(z, 0.5, out=z)
    if name == "tanh":
        return xp.tanh(z, out=z)
    if name == "linear":
        return z
    raise ValueError(f"unknown activation {name!r}")


def backward(xp: Any, name: str, a: Any, grad: Any) -> Any:
    """Gradient w.r.t. the pre-activation, given the activation's output `a` and dL/da."""
    if name == "relu":
        return xp.where(a > 0, grad, 0).astype(grad.dtype, copy=False)
    if name == "sigmoid":
        return grad * a * (1 - a)
    if name == "tanh":
        return grad * (1 - a * a)
    if name == "linear":
        return grad
    raise ValueError(f"unknown activation {name!r}")
