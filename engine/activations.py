"""Activation functions, each with its derivative written in terms of its own output, so a layer
keeps only its activated output for the backward pass; and `Custom`, a function given with its
derivative, for which the layer keeps the pre-activation instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Custom:
    """An activation given in code: `fn(z)` and `derivative(z)`, as network3 scripts pass
    `activation_fn` (with `fn.derivative`). It lives in memory only: a spec that holds one has no
    JSON form, so it cannot be saved."""

    fn: Callable[[Any], Any]
    derivative: Callable[[Any], Any]

    def __str__(self) -> str:
        return getattr(self.fn, "__name__", "custom")


def saved(activation: str | Custom, z: Any, a: Any) -> Any:
    """What `backward` needs of a layer's forward pass: the output `a`, or for a `Custom`
    activation the pre-activation `z`."""
    return z if isinstance(activation, Custom) else a


def forward(xp: Any, name: str | Custom, z: Any) -> Any:
    """Apply activation `name` to `z` in place where the module allows, and return the result
    (a `Custom` one leaves `z` as it is)."""
    if isinstance(name, Custom):
        return name.fn(z)
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


def backward(xp: Any, name: str | Custom, a: Any, grad: Any, out: Any = None) -> Any:
    """Gradient w.r.t. the pre-activation, given what `saved` kept (the activation's output `a`)
    and dL/da; written into `out` when given (a reused buffer), else into a new array (`grad`
    itself for linear)."""
    if isinstance(name, Custom):
        return xp.multiply(grad, name.derivative(a), out=out)
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
