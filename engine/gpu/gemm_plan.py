"""How to ask column-major cuBLAS for a row-major matrix product without copying: which operand
goes first, transposed or not, with which leading dimensions and batch strides. Plain
arithmetic on shapes and strides, so the CPU tests can check it against NumPy."""

from __future__ import annotations

from dataclasses import dataclass

#: cuBLAS's cublasOperation_t.
NO_TRANSPOSE, TRANSPOSE = 0, 1


@dataclass(frozen=True)
class Operand:
    """One matrix of a batch as cuBLAS reads it: transposed or not, its leading dimension and
    the step between the batch's matrices (0: the same matrix for all), in elements."""

    op: int
    ld: int
    batch_stride: int


@dataclass(frozen=True)
class Gemm:
    """C = A·B for row-major C (batch, M, N): cuBLAS computes Cᵀ = Bᵀ·Aᵀ in column-major, so B
    is its first operand and A its second; m = N, n = M, k = K, ldc = N."""

    m: int
    n: int
    k: int
    first: Operand  # B
    second: Operand  # A
    batch: int


def _operand(rows: int, cols: int, strides: tuple[int, ...]) -> tuple[int, int] | None:
    """(op, ld) that makes column-major cuBLAS read the row-major (rows, cols) matrix with these
    element strides (row step, column step) as its transpose, or None when neither layout fits."""
    row_step, col_step = strides
    if col_step == 1 and (row_step >= max(1, cols) or rows == 1):
        return NO_TRANSPOSE, max(1, cols if rows == 1 else row_step)
    if row_step == 1 and (col_step >= max(1, rows) or cols == 1):
        return TRANSPOSE, max(1, rows if cols == 1 else col_step)
    return None


def readable(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether cuBLAS can read this operand's matrices where they lie (element strides); a
    C-ordered copy of one it cannot is always readable."""
    return len(shape) >= 2 and _operand(shape[-2], shape[-1], strides[-2:]) is not None


def plan(a_shape: tuple[int, ...], a_strides: tuple[int, ...], b_shape: tuple[int, ...],
         b_strides: tuple[int, ...]) -> Gemm | None:
    """The call for A·B (2-D or 3-D operands, a 2-D one shared by the batch; strides in
    elements), or None when an operand's layout needs a copy first or the shapes do not fit."""
    batch = max(a_shape[0] if len(a_shape) == 3 else 1, b_shape[0] if len(b_shape) == 3 else 1)
    for shape in (a_shape, b_shape):
        if len(shape) == 3 and shape[0] != batch:
            return None
    (m_rows, k), (k_b, n) = a_shape[-2:], b_shape[-2:]
    if k != k_b or min(m_rows, n, k, batch) < 1:
        return None
    a = _operand(m_rows, k, a_strides[-2:])
    b = _operand(k, n, b_strides[-2:])
    if a is None or b is None:
        return None
    a_step = a_strides[0] if len(a_shape) == 3 else 0
    b_step = b_strides[0] if len(b_shape) == 3 else 0
    # B's row-major layout is its transpose in column-major: no transpose yields Bᵀ, as wanted.
    return Gemm(m=n, n=m_rows, k=k, first=Operand(b[0], b[1], b_step), second=Operand(a[0], a[1], a_step),
                batch=batch)
