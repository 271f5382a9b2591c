"""Fused elementwise kernels for the training step's hot spots on CuPy: each replaces a chain of
array operations, one kernel launch (and one pass over memory) per chain. A backend offers them
as `Backend.fused`; where it offers none, the same arithmetic runs as plain array operations."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import cupy
import numpy as np

from engine.gpu.blas import matmul
from engine.gpu.blas import unavailable as blas_unavailable

__all__ = ["ACTIVATIONS", "bias_activation", "bias_softmax", "blas_unavailable", "col2im", "cross_entropy",
           "matmul", "max_pool_backward", "sgd", "sgd_all"]

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


def sgd_all(
    params: Sequence[Any], grads: Sequence[Any], velocities: Sequence[Any] | None, lr: Any,
    momentum: float, l2s: Sequence[float],
) -> None:
    """:func:`sgd` of every parameter of a step, in order (the host's compiled kernels,
    :mod:`engine.step_kernels`, take them in one call)."""
    for i, param in enumerate(params):
        sgd(param, grads[i], None if velocities is None else velocities[i], lr, momentum, l2s[i])


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


#: dL/d(padded NHWC input) of a convolution, gathered: each input element sums, over the kernel
#: offsets whose window covers it, in the offsets' order, its share of dcols (kh·kw, N·oh·ow, C);
#: one kernel where adding each offset's slab is kh·kw of them (and a fill).
_col2im = cupy.ElementwiseKernel(
    "raw T dcols, int32 kh, int32 kw, int32 s, int32 oh, int32 ow, int32 hp, int32 wp, int32 c, int64 rows",
    "T dx",
    """
    const int ch = i % c;
    long long rest = i / c;
    const int col = rest % wp;
    rest /= wp;
    const int row = rest % hp;
    const long long n = rest / hp;
    T total = 0;
    for (int a = 0; a < kh; ++a) {
        const int top = row - a;
        if (top < 0 || top % s != 0 || top / s >= oh) continue;
        for (int b = 0; b < kw; ++b) {
            const int left = col - b;
            if (left < 0 || left % s != 0 || left / s >= ow) continue;
            const long long at = (n * oh + top / s) * ow + left / s;
            total += dcols[((long long)(a * kw + b) * rows + at) * c + ch];
        }
    }
    dx = total;
    """,
    "convscope_col2im",
)


def col2im(dcols: Any, dx: Any, kernel: tuple[int, int], stride: int, out_hw: tuple[int, int]) -> Any:
    """Write dL/d(padded input) into the C-ordered NHWC `dx` from `dcols` (kh·kw, N·oh·ow, C)."""
    _, hp, wp, c = dx.shape
    kh, kw = kernel
    oh, ow = out_hw
    _col2im(cupy.ascontiguousarray(dcols), np.int32(kh), np.int32(kw), np.int32(stride), np.int32(oh),
            np.int32(ow), np.int32(hp), np.int32(wp), np.int32(c), np.int64(dcols.shape[1]), dx)
    return dx


#: Max pooling's gradient for windows that tile the map (stride = size), gathered: each input
#: element takes its window's gradient when it is the window's first maximum (in window order),
#: none where the ReLU the pool applies let nothing through (`relu`: maximum ≤ 0).
_max_pool_backward = cupy.ElementwiseKernel(
    "raw T x, raw T out, raw T grad, int32 ph, int32 pw, int32 oh, int32 ow, int32 h, int32 w, int32 c,"
    " bool relu",
    "T dx",
    """
    const int col = i % w;
    long long rest = i / w;
    const int row = rest % h;
    rest /= h;
    const int ch = rest % c;
    const long long n = rest / c;
    const int r = row / ph, q = col / pw;
    T value = 0;
    if (r < oh && q < ow) {
        const long long at = ((n * c + ch) * oh + r) * ow + q;
        const T top = out[at];
        if (!(relu && top <= (T)0)) {
            int first = -1;
            for (int k = 0; k < ph * pw && first < 0; ++k) {
                const long long xi = ((n * c + ch) * h + r * ph + k / pw) * w + q * pw + k % pw;
                if (x[xi] == top) first = k;
            }
            const T hit = first == (row - r * ph) * pw + (col - q * pw) ? (T)1 : (T)0;
            value = grad[at] * hit;
        } else {
            value = grad[at] * (T)0;
        }
    }
    dx = value;
    """,
    "convscope_max_pool_backward",
)


def max_pool_backward(x: Any, out: Any, grad: Any, dx: Any, size: tuple[int, int], relu: bool) -> Any:
    """Write max pooling's dL/dx into `dx` (shaped and laid out as `x`, N·C·H·W), for windows
    of `size` that tile the map; `relu`: the pool applies the conv's ReLU mask."""
    _, c, h, w = x.shape
    _, _, oh, ow = out.shape
    ph, pw = size
    _max_pool_backward(x, out, grad, np.int32(ph), np.int32(pw), np.int32(oh), np.int32(ow), np.int32(h),
                       np.int32(w), np.int32(c), bool(relu), dx)
    return dx
