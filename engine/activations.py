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


def backward(xp: Any, name: str, a: Any, grad: Any, out: Any = None) -> Any:
    """Gradient w.r.t. the pre-activation, given the activation's output `a` and dL/da; written
    into `out` when given (a reused buffer), else into a new array (`grad` itself for linear)."""
    if name == "relu":
        return xp.multiply(grad, a > 0, out=out)
    if name == "sigmoid":
        return xp.multiply(grad, a * (1 - a), out=out)
    if name == "tanh":
        return xp.multiply(grad, 1 - a * a, out=out)
    if name == "linear":
        if out is None:
            return grad
        out[...] = grad
        return out
    raise ValueError(f"unknown activation {name!r}")
