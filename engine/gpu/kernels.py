"""Fused elementwise kernels for the training step's hot spots on CuPy: each replaces a chain of
array operations, one kernel launch (and one pass over memory) per chain. A backend offers them
as `Backend.fused`; where it offers none, the same arithmetic runs as plain array operations."""

from __future__ import annotations

from functools import cache
from typing import Any

import cupy
import numpy as np

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
#: z = relu(z + bias), NaN kept as NumPy's maximum keeps it.
_bias_relu = cupy.ElementwiseKernel(
    "T bias", "T z", "const T v = z + bias; z = v > (T)0 || v != v ? v : (T)0;", "convscope_bias_relu"
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


#: One thread per row of an (n, classes) matrix: classes are few (10 for MNIST), rows many.
_ROWS_SOURCE = r"""
extern "C" __global__ void convscope_bias_softmax(T* z, const T* bias, const int n, const int c) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    T* row = z + (long long)i * c;
    T top = row[0] + bias[0];
    for (int j = 0; j < c; ++j) {
        const T v = row[j] + bias[j];
        row[j] = v;
        top = v > top ? v : top;
    }
    T total = 0;
    for (int j = 0; j < c; ++j) {
        const T e = exp(row[j] - top);
        row[j] = e;
        total += e;
    }
    for (int j = 0; j < c; ++j) row[j] /= total;
}

extern "C" __global__ void convscope_cross_entropy(
    const T* probs, const long long* y, const T scale, const T tiny, const int n, const int c,
    T* grad, T* loss, long long* right) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const T* p = probs + (long long)i * c;
    T* g = grad + (long long)i * c;
    const long long label = y[i];
    int best = 0;
    for (int j = 0; j < c; ++j) {
        if (p[j] > p[best]) best = j;
        g[j] = (p[j] - (j == label ? (T)1 : (T)0)) * scale;
    }
    const T picked = p[label];
    // NaN stays NaN, as NumPy's maximum keeps it, so a diverged step shows in its loss.
    loss[i] = -log(picked != picked || picked > tiny ? picked : tiny);
    right[i] = best == label;
}
"""
_BLOCK = 128


@cache
def _row_kernels(dtype: np.dtype) -> tuple[cupy.RawKernel, cupy.RawKernel]:
    ctype = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]
    source = f"typedef {ctype} T;\n{_ROWS_SOURCE}"
    return cupy.RawKernel(source, "convscope_bias_softmax"), cupy.RawKernel(source, "convscope_cross_entropy")


def _grid(n: int) -> tuple[int]:
    return ((n + _BLOCK - 1) // _BLOCK,)


def bias_softmax(z: Any, bias: Any) -> Any:
    """softmax(z + bias) along each row of the C-ordered (n, classes) `z`, in place."""
    n, c = z.shape
    _row_kernels(z.dtype)[0](_grid(n), (_BLOCK,), (z, bias, np.int32(n), np.int32(c)))
    return z


def cross_entropy(probs: Any, y: Any, scale: float, tiny: float) -> tuple[Any, Any, Any]:
    """From the C-ordered (n, classes) `probs` and the labels `y` (int64): the summed
    log-likelihood cost and the count of right answers (device scalars), and dL/dlogits,
    (probs - one-hot)·scale."""
    n, c = probs.shape
    real = probs.dtype.type
    y = cupy.ascontiguousarray(y, dtype=cupy.int64)
    grad = cupy.empty_like(probs)
    loss = cupy.empty(n, dtype=probs.dtype)
    right = cupy.empty(n, dtype=cupy.int64)
    _row_kernels(probs.dtype)[1](
        _grid(n), (_BLOCK,), (probs, y, real(scale), real(tiny), np.int32(n), np.int32(c), grad, loss, right)
    )
    return loss.sum(), right.sum(), grad
