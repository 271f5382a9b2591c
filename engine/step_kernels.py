"""The host's compiled kernels for a training step's elementwise chains outside the conv and pool
layers: the optimizer's update of every parameter in one call, and the cost with its output
gradient in one pass over the probabilities.

The interface is :mod:`engine.gpu.kernels`' (a backend offers either as
:attr:`engine.backend.Backend.step_kernels`), and the arithmetic is NumPy's, operation for
operation in the parameters' dtype, so the host's compiled and array paths train the same bits.
NumPy's SGD update is nine passes over the parameters, velocities and gradients, read back from
L3 after the backward pass, and a Python call or more per pass and parameter; here each value is
read once and written once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine import jit


@jit.kernel
def _sgd_momentum(params, grads, velocities, l2s, lr, momentum):
    # A loop for each case of l2, not a test inside one: LLVM vectorises these.
    for t in range(len(params)):
        param, grad, velocity, l2 = params[t], grads[t], velocities[t], l2s[t]
        if l2 != 0:
            for i in range(param.shape[0]):
                v = velocity[i] * momentum + (grad[i] + l2 * param[i])
                velocity[i] = v
                param[i] = param[i] - lr * v
        else:
            for i in range(param.shape[0]):
                v = velocity[i] * momentum + grad[i]
                velocity[i] = v
                param[i] = param[i] - lr * v


@jit.kernel
def _sgd_plain(params, grads, l2s, lr):
    for t in range(len(params)):
        param, grad, l2 = params[t], grads[t], l2s[t]
        if l2 != 0:
            for i in range(param.shape[0]):
                param[i] = param[i] - lr * (grad[i] + l2 * param[i])
        else:
            for i in range(param.shape[0]):
                param[i] = param[i] - lr * grad[i]


def _flat(a: Any, dtype: np.dtype, size: int) -> tuple[np.ndarray, bool]:
    """`a` as a writable C-contiguous 1-D array of `dtype` and `size` values, the kernels' one
    layout, and whether that is a view of `a` (else a copy to write back). Compiled code checks
    no bounds: a size other than its parameter's is refused."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.writeable and a.size == size:
        return a.reshape(-1), True
    flat = np.array(a, dtype=dtype).reshape(-1)
    if flat.size != size:
        raise ValueError(f"an array of shape {np.shape(a)} beside a parameter of {size} values")
    return flat, False


def _layout(
    params: Sequence[Any], written: Sequence[Sequence[Any]], grads: Sequence[Any]
) -> tuple[list[tuple[np.ndarray, ...]], list[tuple[Any, np.ndarray]]]:
    """The kernels' tuples of 1-D arrays: the `written` ones (parameters and optimizer state, in
    that order), then the gradients; and the arrays updated through copies, to write back."""
    dtype = params[0].dtype
    flats, copies = [], []
    for arrays in (*written, grads):
        flat = []
        for a, param in zip(arrays, params, strict=True):
            view, in_place = _flat(np.asarray(a), dtype, param.size)
            flat.append(view)
            if not in_place and arrays is not grads:
                copies.append((a, view))
        flats.append(tuple(flat))
    flats.insert(1, flats.pop())  # the gradients second, as the kernels take them
    return flats, copies


def _write_back(copies: list[tuple[Any, np.ndarray]]) -> None:
    for a, flat in copies:
        np.copyto(a, flat.reshape(a.shape))  # refused for a read-only array, as NumPy's -= is


def sgd_all(
    params: Sequence[Any], grads: Sequence[Any], velocities: Sequence[Any] | None, lr: Any,
    momentum: float, l2s: Sequence[float],
) -> None:
    """One SGD step of every parameter in place (and of its velocity; `velocities` None without
    momentum), as :meth:`engine.optim.SGD._update` computes it: g = grad + l2·param (where that
    parameter's l2 is not 0), v = momentum·v + g, param -= lr·v."""
    if not params:
        return
    real = params[0].dtype.type
    l2 = np.array(l2s, dtype=real)
    if velocities is None:
        flats, copies = _layout(params, (params,), grads)
        _sgd_plain(*flats, l2, real(lr))
    else:
        flats, copies = _layout(params, (params, velocities), grads)
        _sgd_momentum(*flats, l2, real(lr), real(momentum))
    _write_back(copies)


@jit.kernel
def _adam(params, grads, ms, vs, l2s, step, beta1, beta2, eps, rest1, rest2):
    for t in range(len(params)):
        param, grad, m, v, l2 = params[t], grads[t], ms[t], vs[t], l2s[t]
        if l2 != 0:
            for i in range(param.shape[0]):
                g = grad[i] + l2 * param[i]
                mi = m[i] * beta1 + rest1 * g
                vi = v[i] * beta2 + rest2 * g * g
                m[i], v[i] = mi, vi
                param[i] = param[i] - step * mi / (np.sqrt(vi) + eps)
        else:
            for i in range(param.shape[0]):
                g = grad[i]
                mi = m[i] * beta1 + rest1 * g
                vi = v[i] * beta2 + rest2 * g * g
                m[i], v[i] = mi, vi
                param[i] = param[i] - step * mi / (np.sqrt(vi) + eps)


def adam_all(
    params: Sequence[Any], grads: Sequence[Any], ms: Sequence[Any], vs: Sequence[Any], step: float,
    beta1: float, beta2: float, eps: float, l2s: Sequence[float],
) -> None:
    """One Adam step of every parameter and its moments in place, as
    :meth:`engine.optim.Adam._update` computes it: g = grad + l2·param, m = β₁·m + (1 − β₁)·g,
    v = β₂·v + (1 − β₂)·g², param -= step·m / (√v + ε), `step` the bias-corrected rate."""
    if not params:
        return
    flats, copies = _layout(params, (params, ms, vs), grads)
    real = params[0].dtype.type
    # 1 − β as NumPy's code has it: computed in Python's float64, then rounded to the dtype.
    _adam(*flats, np.array(l2s, dtype=real), real(step), real(beta1), real(beta2), real(eps),
          real(1 - beta1), real(1 - beta2))
    _write_back(copies)


@jit.kernel
def _cross_entropy(probs, y, one, scale, tiny, grad, picked):
    n, c = probs.shape
    right = 0
    for i in range(n):
        label = y[i]
        if label < 0 or label >= c:
            raise IndexError("a label outside the network's classes")
        best = 0
        for j in range(c):
            p = probs[i, j]
            if p > probs[i, best]:
                best = j
            grad[i, j] = (p - one if j == label else p) * scale  # `one` of p's type: no float64
        p = probs[i, label]
        picked[i] = p if p != p or p > tiny else tiny  # NaN kept, as NumPy's maximum keeps it
        right += best == label
    return right


def cross_entropy(probs: np.ndarray, y: Any, scale: float, tiny: float) -> tuple[Any, int, np.ndarray]:
    """From the C-ordered (n, classes) `probs` and the labels `y`: the summed log-likelihood cost,
    the count of right answers (the first of tied maxima, as NumPy's argmax takes) and
    dL/dlogits, (probs - one-hot)·scale, as :meth:`engine.network.Network._scores` computes them
    with array operations, to the bit: the kernel picks each row's probability, and the cost's
    log and mean are NumPy's own."""
    if not (probs.ndim == 2 and probs.flags.c_contiguous):
        raise ValueError("cross_entropy takes C-ordered (images, classes) probabilities")
    labels = np.ascontiguousarray(y, dtype=np.int64)
    n = probs.shape[0]
    if labels.shape != (n,):
        raise ValueError(f"{labels.size} labels for {n} rows of probabilities")
    real = probs.dtype.type
    grad = np.empty_like(probs)
    picked = np.empty(n, dtype=probs.dtype)
    right = _cross_entropy(probs, labels, real(1), real(scale), real(tiny), grad, picked)
    return -np.log(picked).mean() * n, right, grad
