"""A NumPy backend that refuses host/device mix-ups the way CuPy does, so the CPU test suite
catches them without a GPU.

Its arrays wrap NumPy arrays: converting one to NumPy implicitly (``np.asarray``), calling a
NumPy function on it directly, or mixing a host array into its math raises ``TypeError``.
Only ``xp.asarray`` / ``xp.array`` (host to device) and ``xp.asnumpy`` (device to host) cross."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from engine.backend import Backend


class HostDeviceMixup(TypeError):
    """Raised where CuPy would refuse an implicit host/device conversion."""


def _unwrap(v: Any) -> Any:
    if isinstance(v, StrictArray):
        return v.a
    if isinstance(v, np.ndarray) and v.ndim > 0:
        raise HostDeviceMixup(f"a host NumPy array {v.shape} was mixed into device math")
    if isinstance(v, tuple | list):
        return type(v)(_unwrap(e) for e in v)
    if isinstance(v, dict):
        return {k: _unwrap(e) for k, e in v.items()}
    return v


def _wrap(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return StrictArray(v)
    if isinstance(v, np.generic):  # CuPy's reductions and element reads give 0-d device arrays
        return StrictArray(np.asarray(v))
    if isinstance(v, tuple | list):
        return type(v)(_wrap(e) for e in v)
    return v


def _device_call(fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return _wrap(fn(*_unwrap(args), **_unwrap(kwargs)))

    return call


class StrictArray(NDArrayOperatorsMixin):
    """A device array stand-in: NumPy inside, CuPy's manners outside."""

    __slots__ = ("a",)

    def __init__(self, a: np.ndarray):
        self.a = a

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise HostDeviceMixup("implicit conversion of a device array to NumPy is not allowed")

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        raise HostDeviceMixup(f"numpy.{func.__name__} was called on a device array; use backend.xp")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self.a[_unwrap(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self.a[_unwrap(key)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self.a)

    def __float__(self) -> float:
        return float(self.a)

    def __int__(self) -> int:
        return int(self.a)

    def __bool__(self) -> bool:
        return bool(self.a)

    def __repr__(self) -> str:
        return f"StrictArray({self.a!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # hides __array_interface__ and friends, as CuPy does
            raise AttributeError(name)
        attr = getattr(self.a, name)
        if callable(attr):
            return _device_call(attr)
        return _wrap(attr)


class _Proxy:
    """A module or object whose functions take and give device arrays only."""

    def __init__(self, target: Any):
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if isinstance(attr, types.ModuleType):
            return _Proxy(attr)
        if isinstance(attr, type) and issubclass(attr, np.generic):
            return attr  # dtypes pass through, as cupy.float32 is numpy.float32
        if isinstance(attr, type):
            return lambda *a, **k: _Proxy(attr(*_unwrap(a), **_unwrap(k)))
        if callable(attr):
            return _device_call(attr)
        return attr


class StrictModule(_Proxy):
    def __init__(self) -> None:
        super().__init__(np)

    @staticmethod
    def asarray(a: Any, dtype: Any = None) -> StrictArray:
        if isinstance(a, StrictArray):
            return StrictArray(a.a.astype(dtype, copy=False)) if dtype is not None else a
        return StrictArray(np.array(a, dtype=dtype))

    array = asarray

    @staticmethod
    def asnumpy(a: Any) -> np.ndarray:
        if not isinstance(a, StrictArray):
            raise HostDeviceMixup(f"asnumpy got {type(a).__name__}, not a device array")
        return a.a.copy()


STRICT = Backend("strict", StrictModule(), keeps_workspaces=False)
