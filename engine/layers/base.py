"""What every layer offers the network: parameter shapes, forward, backward."""

from __future__ import annotations

import sys
import threading
from abc import ABC, abstractmethod
from typing import Any

from engine.backend import Backend
from engine.parallel import INLINE, Beside
from engine.spec import LayerInfo


class Layer(ABC):
    """A layer holds its settings only; parameters live in the network's `params` dict."""

    def __init__(self, info: LayerInfo, backend: Backend):
        self.info = info
        self.backend = backend
        self.xp = backend.xp
        self.input_shape = info.input_shape
        self.output_shape = info.output_shape
        self._scratch = threading.local()

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
        """An uninitialised array (C order, or `like`'s layout) kept between batches on NumPy.

        Fresh multi-megabyte arrays cost page faults on every batch (up to a fifth of a step);
        CuPy's memory pool already avoids that on the device, so only NumPy keeps buffers. One
        is handed out again only when nothing else (a cache, a caller's view) still refers to
        it, and each thread has its own, so the window's feature-map requests never share one
        with the training thread.
        """
        xp = self.xp
        if self.backend.name != "cpu":
            return xp.empty(shape, dtype=dtype) if like is None else xp.empty_like(like, dtype=dtype)
        key = (tuple(shape), xp.dtype(dtype), None if like is None else like.strides)
        store = self._scratch.__dict__
        entry = store.get(name)
        # Referrers of a free buffer: the stored tuple, `buf` and getrefcount's argument.
        if entry is not None and entry[0] == key and sys.getrefcount(buf := entry[1]) == 3:
            return buf
        buf = xp.empty(shape, dtype=dtype) if like is None else xp.empty_like(like, dtype=dtype)
        store[name] = (key, buf)
        return buf

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    @abstractmethod
    def forward(self, x: Any, params: dict[str, Any], train: bool, rng: Any) -> tuple[Any, Any]:
        """Return the layer's output and what its backward pass needs."""

    @abstractmethod
    def backward(
        self, grad: Any, cache: Any, params: dict[str, Any], need_dx: bool, beside: Beside = INLINE
    ) -> tuple[Any, dict[str, Any]]:
        """Return dL/dinput (None when `need_dx` is false) and dL/dparam for each parameter;
        `beside` may run the parameters' part while the input's is computed."""
