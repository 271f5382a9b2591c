"""Matrix products through cuBLAS called directly, with a handle and a workspace of their own,
so a CUDA graph can capture them: CuPy refuses every cuBLAS call on a capturing stream (its
`cublas.setStream` raises NotImplementedError), while cuBLAS itself may be captured once its
handle has a workspace set (cuBLAS guide, "CUDA Graphs Support"). Products this path does not
take (other dtypes, more than three dimensions) go to `cupy.matmul`."""

from __future__ import annotations

import ctypes
import threading
from functools import cache
from typing import Any

import cupy
import numpy as np

from engine.gpu.gemm_plan import Gemm, plan, readable

#: cuBLAS's own default is 4 MiB per handle on most GPUs, 32 MiB on Hopper.
WORKSPACE_BYTES = 32 * 2**20
_P = ctypes.c_void_p
_GEMM_ARGS = [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, _P, _P, ctypes.c_int,
              ctypes.c_longlong, _P, ctypes.c_int, ctypes.c_longlong, _P, _P, ctypes.c_int, ctypes.c_longlong,
              ctypes.c_int]


@cache
def _library() -> ctypes.CDLL:
    """The libcublas CuPy loaded, found through this process's memory map."""
    cupy.cuda.device.get_cublas_handle()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.rsplit("/", 1)[-1].startswith("libcublas.so"):
                return ctypes.CDLL(path)
    raise OSError("CuPy's libcublas is not loaded")


class _Blas:
    def __init__(self) -> None:
        lib = _library()
        self.handle = _P()
        self._check(lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self.workspace = cupy.empty(WORKSPACE_BYTES, dtype=cupy.uint8)
        self._check(lib.cublasSetWorkspace_v2(self.handle, _P(self.workspace.data.ptr),
                                              ctypes.c_size_t(WORKSPACE_BYTES)), "cublasSetWorkspace")
        self._set_stream = lib.cublasSetStream_v2
        self._set_stream.argtypes = [_P, _P]
        self._gemm = {np.dtype(np.float32): lib.cublasSgemmStridedBatched,
                      np.dtype(np.float64): lib.cublasDgemmStridedBatched}
        for fn in self._gemm.values():
            fn.argtypes = _GEMM_ARGS
        # Host scalars (a capture takes their values when the call is recorded), kept alive here.
        self._numbers = [ctypes.c_float(1.0), ctypes.c_float(0.0), ctypes.c_double(1.0), ctypes.c_double(0.0)]
        one32, zero32, one64, zero64 = (_P(ctypes.addressof(x)) for x in self._numbers)
        self._scalars = {np.dtype(np.float32): (one32, zero32), np.dtype(np.float64): (one64, zero64)}

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed with cuBLAS status {status}")

    def gemm(self, g: Gemm, a: Any, b: Any, out: Any) -> None:
        one, zero = self._scalars[out.dtype]
        self._check(self._set_stream(self.handle, _P(cupy.cuda.get_current_stream().ptr)), "cublasSetStream")
        status = self._gemm[out.dtype](
            self.handle, g.first.op, g.second.op, g.m, g.n, g.k, one,
            _P(b.data.ptr), g.first.ld, g.first.batch_stride,
            _P(a.data.ptr), g.second.ld, g.second.batch_stride,
            zero, _P(out.data.ptr), g.m, g.m * g.n, g.batch,
        )
        self._check(status, "cublas gemm")


_per_thread = threading.local()
_why: list[str] = []


def _blas() -> _Blas | None:
    """This thread's cuBLAS handle (the window's thread reads feature maps while its worker
    trains, and a handle's stream is per call), or None, and :func:`unavailable` says why,
    where cuBLAS cannot be called directly: products then go through CuPy, which a capture
    refuses."""
    if _why:
        return None
    blas = getattr(_per_thread, "blas", None)
    if blas is None:
        try:
            blas = _per_thread.blas = _Blas()
        except Exception as exc:  # a missing library or symbol, a CUDA error: CuPy's products still work
            _why.append(f"{type(exc).__name__}: {exc}")
            return None
    return blas


def unavailable() -> str | None:
    """Why cuBLAS is not called directly here, or None."""
    return _why[0] if _why else None


def _steps(x: Any) -> tuple[int, ...] | None:
    """`x`'s strides in elements, or None where one is not a whole number of them."""
    if any(s % x.itemsize for s in x.strides):
        return None
    return tuple(s // x.itemsize for s in x.strides)


def _readable(x: Any) -> Any:
    """`x`, or a C-ordered copy where cuBLAS cannot read it as it lies."""
    steps = _steps(x)
    return x if steps is not None and readable(x.shape, steps) else cupy.ascontiguousarray(x)


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """a @ b (written into `out` when given), as `cupy.matmul` computes it. An operand cuBLAS
    cannot read where it lies (a reshaped transpose: conv's per-offset weights) is copied first."""
    dtype = np.result_type(a.dtype, b.dtype)
    g = None
    if 2 <= a.ndim <= 3 and 2 <= b.ndim <= 3 and a.dtype == b.dtype and dtype in (np.float32, np.float64):
        a, b = _readable(a), _readable(b)
        g = plan(a.shape, _steps(a), b.shape, _steps(b))
    if g is None or _blas() is None:
        return cupy.matmul(a, b, out=out)
    shape = (*((g.batch,) if max(a.ndim, b.ndim) == 3 else ()), g.n, g.m)
    target = out if out is not None and out.flags.c_contiguous and out.dtype == dtype else None
    result = target if target is not None else cupy.empty(shape, dtype=dtype)
    _blas().gemm(g, a, b, result)
    if out is not None and target is None:
        out[...] = result
        return out
    return result
