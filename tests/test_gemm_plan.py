"""engine/gpu/gemm_plan.py: the column-major cuBLAS call it plans for a row-major product gives
NumPy's result, for every layout the layers hand over (C order, transposed views, padded rows,
a matrix shared by a batch), checked by reading the operands' memory as cuBLAS would."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gpu.gemm_plan import NO_TRANSPOSE, Gemm, Operand, plan


def _memory(x: np.ndarray) -> tuple[np.ndarray, int]:
    """The flat buffer under `x` and `x`'s offset into it, in elements."""
    base = x
    while base.base is not None:
        base = base.base
    offset = x.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return base.reshape(-1), offset // x.itemsize


def _read(buffer: np.ndarray, offset: int, operand: Operand, rows: int, cols: int, i: int) -> np.ndarray:
    """op(matrix i) (rows, cols) as column-major cuBLAS reads it."""
    stored = (rows, cols) if operand.op == NO_TRANSPOSE else (cols, rows)
    start = offset + i * operand.batch_stride
    r, c = np.meshgrid(np.arange(stored[0]), np.arange(stored[1]), indexing="ij")
    matrix = buffer[start + r + c * operand.ld]
    return matrix if operand.op == NO_TRANSPOSE else matrix.T


def _cublas(g: Gemm, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (b_mem, b_at), (a_mem, a_at) = _memory(b), _memory(a)
    results = []
    for i in range(g.batch):
        first = _read(b_mem, b_at, g.first, g.m, g.k, i)
        second = _read(a_mem, a_at, g.second, g.k, g.n, i)
        results.append((first @ second).T)  # column-major (m, n) is row-major (n, m)
    return np.stack(results)


def _layouts(rng: np.random.Generator, shape: tuple[int, ...]) -> list[np.ndarray]:
    *batch, rows, cols = shape
    return [
        rng.random(shape),
        np.swapaxes(rng.random((*batch, cols, rows)), -1, -2),  # a transposed view
        rng.random((*batch, rows, cols + 3))[..., :cols],  # rows with a gap between them
    ]


@pytest.mark.parametrize("m, k, n", [(5, 3, 4), (1, 3, 4), (5, 1, 4), (5, 3, 1), (7, 6, 2)])
@pytest.mark.parametrize("batches", [((), ()), ((), (3,)), ((3,), (3,)), ((3,), ())])
def test_the_planned_call_computes_the_row_major_product(m, k, n, batches):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    for a in _layouts(rng, (*batches[0], m, k)):
        for b in _layouts(rng, (*batches[1], k, n)):
            g = plan(a.shape, tuple(s // 8 for s in a.strides), b.shape, tuple(s // 8 for s in b.strides))
            assert g is not None
            want = np.matmul(a, b)
            np.testing.assert_allclose(_cublas(g, a, b), want if want.ndim == 3 else want[None])


def test_layouts_cublas_cannot_read_and_shapes_that_do_not_fit_get_no_plan():
    x = np.zeros((4, 6, 5))[:, ::2, ::2]  # neither rows nor columns contiguous
    assert plan(x.shape[1:], tuple(s // 8 for s in x.strides[1:]), (3, 2), (2, 1)) is None
    assert plan((4, 3), (3, 1), (4, 2), (2, 1)) is None  # 3 columns against 4 rows
    assert plan((2, 4, 3), (12, 3, 1), (5, 3, 2), (6, 2, 1)) is None  # batches of 2 and 5
