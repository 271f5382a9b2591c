"""Winograd (Toom-Cook) convolution on the host: a stride-1 convolution computed tile by tile with
fewer multiplications than im2col's GEMM (Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks", 2015).

F(m, r) gives an m×m block of outputs of an r×r kernel from an α×α input tile, α = m + r - 1:
    Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
Over C channels and K filters the ⊙ becomes one (tiles, C)·(C, K) GEMM per each of the α² tile
points, m²·r²/α² times fewer multiplications than the direct form (6.25× for F(4, 5)). The
transforms are small GEMMs over the tiles. The backward pass is this algorithm's own adjoint:
dM = A dY Aᵀ feeds both the input's gradient, B (dM·Uᵀ) Bᵀ scattered back onto the tiles, and
the kernel's, Gᵀ (Σ_tiles Vᵀ·dM) G, reusing the forward pass's transformed input V.

Arrays are NHWC, as `engine.layers.conv` keeps them; `array(name, shape, dtype)` hands out the
caller's workspace buffers. With `compiled`, the copies between the NHWC maps and the tile-major
arrays (the tiles' gather, the blocks' scatter with the bias, dY's gather and the tiles' adding
back onto dL/dx) run as loops of our own (engine.jit): NumPy runs them a pixel's channels at a
time, the transforms and products stay BLAS's."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

from engine import jit

#: Interpolation points per tile size α, the last one infinity (None): small values and their
#: reciprocals keep the transforms' entries near 1, which keeps float32's error small.
POINTS: dict[int, tuple[Fraction | None, ...]] = {
    6: (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), None),
    8: (
        Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2),
        Fraction(1, 2), Fraction(-1, 2), None,
    ),
}
#: The most bytes of one block's widest tile array (α², tiles, channels) that a pass computes at
#: once: the block's arrays then stay in a core's L2 cache between the steps.
BLOCK_BYTES = 1 << 20
#: Per kernel side, the fewest input channels from which Winograd measured faster than im2col
#: (tests/benchmarks/README.md): below, the K-side transforms, which do not shrink with C,
#: outweigh the GEMM work saved.
MIN_CHANNELS = {3: 16, 5: 4}
#: The fewest images in a pass from which Winograd measured faster: one image (the live view's
#: pass) pays its two dozen NumPy calls for too little work.
MIN_IMAGES = 2
#: The output block side m used for each kernel side r (α = m + r - 1 must be in POINTS).
BLOCK = {3: 4, 5: 4}

Exact = list[list[Fraction]]
ArrayFor = Callable[[str, tuple[int, ...], Any], Any]


def _inverse(matrix: Exact) -> Exact:
    """The inverse of a square matrix of Fractions, by Gauss-Jordan elimination."""
    n = len(matrix)
    rows = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        lead = rows[col][col]
        rows[col] = [v / lead for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [row[n:] for row in rows]


def _evaluation(points: tuple[Fraction | None, ...], size: int) -> Exact:
    """Rows evaluating a polynomial of `size` coefficients at each point (at infinity: its
    leading coefficient)."""
    return [
        [Fraction(int(k == size - 1)) for k in range(size)] if p is None else [p**k for k in range(size)]
        for p in points
    ]


def toom_cook(m: int, r: int) -> tuple[Exact, Exact, Exact]:
    """Exact (Aᵀ, G, Bᵀ) of F(m, r): m×α, α×r and α×α.

    Toom-Cook computes a linear convolution s = h * x by evaluating both at α points,
    multiplying, and interpolating: s = V⁻¹ [(E h) ⊙ (D x)]. Correlation, F(m, r), is that
    product's transpose with respect to x: y = Dᵀ [(E g) ⊙ (V⁻ᵀ d)]. Each row of V⁻ᵀ is scaled to
    a largest entry of 1, and G's row by the inverse, which changes no product."""
    alpha = m + r - 1
    points = POINTS[alpha]
    a_t = [list(col) for col in zip(*_evaluation(points, m), strict=True)]
    g = _evaluation(points, r)
    b_t = [list(col) for col in zip(*_inverse(_evaluation(points, alpha)), strict=True)]
    for row, g_row in zip(b_t, g, strict=True):
        scale = max(abs(v) for v in row)
        row[:] = [v / scale for v in row]
        g_row[:] = [v * scale for v in g_row]
    return a_t, g, b_t


@dataclass(frozen=True)
class Transforms:
    """F(m, r)'s matrices in floating point."""

    m: int
    r: int
    a_t: np.ndarray
    g: np.ndarray
    b_t: np.ndarray

    #: Gᵀ, A and B, the backward pass's (contiguous, as BLAS takes them without a copy).
    g_t: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @property
    def alpha(self) -> int:
        return self.m + self.r - 1


@cache
def transforms(r: int, dtype: Any) -> Transforms:
    m = BLOCK[r]
    a_t, g, b_t = (np.array([[float(v) for v in row] for row in mat], dtype=dtype) for mat in toom_cook(m, r))
    return Transforms(m, r, a_t, g, b_t, *(np.ascontiguousarray(mat.T) for mat in (g, a_t, b_t)))


def plan(
    kernel: tuple[int, int], stride: int, output_hw: tuple[int, int], channels: int, images: int, dtype: Any
) -> Transforms | None:
    """F(m, r) for a pass that Winograd computes, else None: a square kernel of a side in BLOCK,
    stride 1, outputs that split into whole m×m blocks, MIN_CHANNELS input channels or more, and
    MIN_IMAGES images or more."""
    r = kernel[0]
    if kernel[1] != r or r not in BLOCK or stride != 1 or channels < MIN_CHANNELS[r] or images < MIN_IMAGES:
        return None
    m = BLOCK[r]
    if any(side % m for side in output_hw):
        return None
    return transforms(r, np.dtype(dtype))


def _both_sides(left: np.ndarray, x: np.ndarray, out1: np.ndarray, out2: np.ndarray) -> np.ndarray:
    """left · X · leftᵀ for every trailing index of x (a, a, ...): out2 (l, l, ...), through out1
    (l, a, ...). Both steps are batched GEMMs whose long side is one trailing block: OpenBLAS ran
    the first step as one (l, a)·(a, a·rest) product at a third of that speed."""
    a, side = x.shape[0], left.shape[0]
    rest = x.shape[2:]
    np.matmul(left, x.reshape(a, a, -1).transpose(1, 0, 2), out=out1.reshape(side, a, -1).transpose(1, 0, 2))
    np.matmul(left, out1.reshape(side, a, -1), out=out2.reshape(side, side, -1))
    return out2.reshape(side, side, *rest)


def kernel_transform(t: Transforms, weight: np.ndarray, array: ArrayFor) -> np.ndarray:
    """U = G g Gᵀ of the (K, C, r, r) weights, as (α², C, K)."""
    k, c, r, _ = weight.shape
    g = np.ascontiguousarray(weight.transpose(2, 3, 1, 0))
    u1 = array("u1", (t.alpha, r, c, k), weight.dtype)
    u = array("u", (t.alpha, t.alpha, c, k), weight.dtype)
    return _both_sides(t.g, g, u1, u).reshape(t.alpha**2, c, k)


def images_per_block(t: Transforms, n: int, tiles_per_image: int, channels: int, itemsize: int) -> int:
    """How many images one block of a pass takes: at most BLOCK_BYTES of its widest tile array,
    in blocks of equal size (a short last block would pay a block's overheads for few images)."""
    most = max(1, BLOCK_BYTES // (t.alpha**2 * tiles_per_image * channels * itemsize))
    return -(-n // -(-n // most)) if n else 1


def _view(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The first prod(shape) items of a flat buffer, as `shape` (a shorter last block's)."""
    return buffer[: math.prod(shape)].reshape(shape)


def forward(
    t: Transforms, x: np.ndarray, weight: np.ndarray, bias: np.ndarray, array: ArrayFor, compiled: bool
) -> tuple[np.ndarray, Any]:
    """z (N·out_h·out_w, K) of the padded, C-contiguous NHWC input x, and what `backward` needs:
    the transformed kernel and each block's transformed input tiles."""
    n, h, w, c = x.shape
    k = weight.shape[0]
    if bias.shape != (k,):  # the compiled copies read bias[f] for each filter, unchecked
        raise ValueError(f"a bias of shape {bias.shape} beside {k} filters' weights")
    m, alpha, dtype = t.m, t.alpha, x.dtype
    th, tw = (h - t.r + 1) // m, (w - t.r + 1) // m
    per = th * tw
    step = images_per_block(t, n, per, max(c, k), x.itemsize)
    u = kernel_transform(t, weight, array)
    v_all = array("v", (n * alpha * alpha * per * c,), dtype)
    d_buf = array("d", (step * alpha * alpha * per * c,), dtype)
    v1_buf = array("v1", (step * alpha * alpha * per * c,), dtype)
    products_buf = array("products", (step * alpha * alpha * per * k,), dtype)
    y1_buf = array("y1", (step * m * alpha * per * k,), dtype)
    z = array("z", (n * per * m * m, k), dtype)
    sn, sh, sw, sc = x.strides
    for first in range(0, n, step):
        mb = min(step, n - first)
        tiles = mb * per
        windows = np.lib.stride_tricks.as_strided(
            x[first:], (alpha, alpha, mb, th, tw, c), (sh, sw, sn, m * sh, m * sw, sc)
        )
        d = _view(d_buf, windows.shape)
        if compiled:
            _move_tiles(d, x[first : first + mb], m, False)
        else:
            np.copyto(d, windows)
        v = _view(v_all[first * alpha * alpha * per * c :], d.shape)
        _both_sides(t.b_t, d, _view(v1_buf, d.shape), v)  # kept for the backward pass
        products = _view(products_buf, (alpha * alpha, tiles, k))
        np.matmul(v.reshape(alpha * alpha, tiles, c), u, out=products)
        y1 = _view(y1_buf, (m, alpha, tiles, k))
        y = _both_sides(t.a_t, products.reshape(alpha, alpha, tiles, k), y1, products[: m * m])
        blocks = y.reshape(m, m, mb, th, tw, k)
        out = z[first * per * m * m : (first + mb) * per * m * m].reshape(mb, th, m, tw, m, k)
        if compiled:
            _move_blocks(blocks, out, bias, True)
        else:
            np.add(blocks.transpose(2, 3, 0, 4, 1, 5), bias, out=out)
    return z, (v_all, u, step)


def backward(
    t: Transforms,
    dz: np.ndarray,
    cache: tuple[Any, Any, int],
    x_shape: tuple[int, ...],
    need_dx: bool,
    array: ArrayFor,
    beside: Any,
    compiled: bool,
) -> tuple[Any, np.ndarray, np.ndarray]:
    """(dL/dx of the padded NHWC input or None, dL/dweight (K, C, r, r), dL/dbias) from dz
    (N·out_h·out_w, K), block by block as the forward pass went; `beside` may run a block's
    kernel part while its input part is computed."""
    v_all, u, step = cache
    n, h, w, c = x_shape
    k = dz.shape[1]
    m, alpha, r, dtype = t.m, t.alpha, t.r, dz.dtype
    th, tw = (h - r + 1) // m, (w - r + 1) // m
    per = th * tw
    dy_buf = array("dy", (step * m * m * per * k,), dtype)
    dm1_buf = array("dm1", (step * alpha * m * per * k,), dtype)
    dm_buf = array("dm", (step * alpha * alpha * per * k,), dtype)
    du = array("du", (alpha * alpha, c, k), dtype)
    dx = None
    if need_dx:
        dx = array("dx", x_shape, dtype)
        dx.fill(0)
    for first in range(0, n, step):
        mb = min(step, n - first)
        tiles = mb * per
        rows = dz[first * per * m * m : (first + mb) * per * m * m]
        dy = _view(dy_buf, (m, m, mb, th, tw, k))
        if compiled:
            _move_blocks(dy, rows.reshape(mb, th, m, tw, m, k), dz[0], False)  # dz[0]: no bias read
        else:
            np.copyto(dy, rows.reshape(mb, th, m, tw, m, k).transpose(2, 4, 0, 1, 3, 5))
        dm1, dm = _view(dm1_buf, (alpha, m, tiles, k)), _view(dm_buf, (alpha, alpha, tiles, k))
        dm = _both_sides(t.a, dy, dm1, dm).reshape(alpha * alpha, tiles, k)
        v = _view(v_all[first * alpha * alpha * per * c :], (alpha * alpha, tiles, c))
        kernel_part = beside.start(_add_kernel_products, v, dm, du, first == 0, array)
        try:
            if dx is not None:
                _add_input_gradient(t, dm, u, dx[first : first + mb], array, compiled)
        finally:
            kernel_part()
    dg1 = array("dg1", (r, alpha, c, k), dtype)
    dg = _both_sides(t.g_t, du.reshape(alpha, alpha, c, k), dg1, array("dg", (r, r, c, k), dtype))
    ones = array("ones", (dz.shape[0],), dtype)
    ones.fill(1)
    return dx, np.ascontiguousarray(dg.transpose(3, 2, 0, 1)), ones @ dz


def _add_kernel_products(v: np.ndarray, dm: np.ndarray, du: np.ndarray, first: bool, array: ArrayFor) -> None:
    """du (α², C, K) += Σ_tiles Vᵀ·dM of one block (= on the first)."""
    if first:
        np.matmul(v.transpose(0, 2, 1), dm, out=du)
        return
    block = array("du_block", du.shape, du.dtype)
    np.matmul(v.transpose(0, 2, 1), dm, out=block)
    du += block


def _add_input_gradient(
    t: Transforms, dm: np.ndarray, u: np.ndarray, dx: np.ndarray, array: ArrayFor, compiled: bool
) -> None:
    """Adds each tile's B (dM·Uᵀ) Bᵀ to one block's dL/dx where the forward pass took the tile."""
    n, h, w, c = dx.shape
    m, alpha, r = t.m, t.alpha, t.r
    th, tw = (h - r + 1) // m, (w - r + 1) // m
    tiles = dm.shape[1]
    dv = array("dv", (alpha * alpha, tiles, c), dm.dtype)
    np.matmul(dm, u.transpose(0, 2, 1), out=dv)
    dd1 = array("dd1", (alpha, alpha, tiles, c), dm.dtype)
    dd = _both_sides(t.b, dv.reshape(alpha, alpha, tiles, c), dd1, dv)
    if compiled:
        _move_tiles(dd.reshape(alpha, alpha, n, th, tw, c), dx, m, True)
        return
    # Each tile whole and image-major (in dd1, free again), so that it adds as runs of α·C floats
    # where a tile offset's slices ran C floats at a time.
    whole = dd1.reshape(n, th, tw, alpha, alpha, c)
    np.copyto(whole, dd.reshape(alpha, alpha, n, th, tw, c).transpose(2, 3, 4, 0, 1, 5))
    for i in range(th):
        for j in range(tw):
            dx[:, i * m : i * m + alpha, j * m : j * m + alpha] += whole[:, i, j]


# The copies' compiled loops: the channels innermost and the NHWC side's order outside them, so a
# pass goes through its map in order, a pixel's channels at a time.


@jit.kernel
def _move_tiles(tiles, maps, m, to_maps):  # pragma: no cover - compiled
    """Between the overlapping α×α tiles (α, α, n, th, tw, c), tile (ty, tx) starting at pixel
    (m·ty, m·tx), and the NHWC maps: tiles = maps (the forward pass's gather), or maps += tiles
    (its adjoint, dL/dx: each pixel's tiles added in the order the NumPy path adds them)."""
    alpha, _, n, th, tw, c = tiles.shape
    for i in range(n):
        for ty in range(th):
            for a in range(alpha):
                for tx in range(tw):
                    for b in range(alpha):
                        if to_maps:
                            for ci in range(c):
                                maps[i, m * ty + a, m * tx + b, ci] += tiles[a, b, i, ty, tx, ci]
                        else:
                            for ci in range(c):
                                tiles[a, b, i, ty, tx, ci] = maps[i, m * ty + a, m * tx + b, ci]


@jit.kernel
def _move_blocks(tiles, maps, bias, to_maps):  # pragma: no cover - compiled
    """Between tile-major (m, m, n, th, tw, k) and the maps' NHWC blocks (n, th, m, tw, m, k):
    maps = tiles + bias (the forward pass's output), or tiles = maps (dY, from dz)."""
    m, _, n, th, tw, k = tiles.shape
    for i in range(n):
        for ty in range(th):
            for a in range(m):
                for tx in range(tw):
                    for b in range(m):
                        if to_maps:
                            for f in range(k):
                                maps[i, ty, a, tx, b, f] = tiles[a, b, i, ty, tx, f] + bias[f]
                        else:
                            for f in range(k):
                                tiles[a, b, i, ty, tx, f] = maps[i, ty, a, tx, b, f]
