"""What every layer offers the network: parameter shapes, forward, backward, and the workspaces
its passes write into."""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from typing import Any

from engine.backend import Backend
from engine.parallel import INLINE, Beside
from engine.spec import LayerInfo


class Workspace:
    """Named arrays that one kind of pass (forward or backward) of one layer writes into, on one
    thread, kept from one batch to the next where the backend keeps workspaces.

    Whoever calls the pass owns its arrays until that pass runs again on the same thread. A
    forward pass's arrays back its output and its cache: the network runs the backward pass
    that uses the cache, or drops it, before the next forward pass. A backward pass's arrays
    back the gradient it returns: the layer below consumes it before the next backward pass.
    So an array is always free when `array` hands it out again; results kept longer are copied
    (`Network.feature_maps` does)."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self._arrays: dict[str, tuple[tuple, Any]] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
        """An uninitialised array (C order, or `like`'s layout): last pass's `name` when it has
        the same shape, dtype and layout, else, where the backend keeps workspaces, a view of
        the memory last pass's `name` had when that is large enough. So a smaller batch (an
        epoch's last, inference after training) reuses memory that a new array would add to
        the process's peak."""
        # dtype as given: a scalar type compares equal to its dtype, and a hit (nearly every call,
        # all holding the GIL) then builds no dtype.
        key = (tuple(shape), dtype, None if like is None else like.strides)
        entry = self._arrays.get(name)
        if entry is not None and entry[0] == key:
            return entry[1]
        xp = self._backend.xp
        if not self._backend.keeps_workspaces:
            return xp.empty(shape, dtype=dtype) if like is None else xp.empty_like(like, dtype=dtype)
        size = math.prod(shape)
        memory = entry[2] if entry is not None and entry[2].dtype == dtype and entry[2].size >= size else None
        if memory is None:
            memory = xp.empty(size, dtype=dtype)
        buf = _laid_out(memory[:size], shape, like)
        self._arrays[name] = (key, buf, memory)
        return buf

    def arrays(self) -> list[Any]:
        """The arrays it holds now."""
        return [buf for _, buf, _ in self._arrays.values()]


def _laid_out(flat: Any, shape: tuple[int, ...], like: Any) -> Any:
    """`flat` as an array of `shape`, in C order, or with `like`'s order of axes in memory (as
    `empty_like` lays out a new array)."""
    if like is None:
        return flat.reshape(shape)
    order = sorted(range(len(shape)), key=lambda axis: -abs(like.strides[axis]))
    inverse = sorted(range(len(shape)), key=order.__getitem__)
    return flat.reshape([shape[axis] for axis in order]).transpose(inverse)


class Layer(ABC):
    """A layer holds its settings and workspaces; parameters live in the network's `params`."""

    def __init__(self, info: LayerInfo, backend: Backend):
        self.info = info
        self.backend = backend
        self.xp = backend.xp
        self.input_shape = info.input_shape
        self.output_shape = info.output_shape
        # Per thread, so the parts of a split batch, and the window asking for feature maps
        # while its worker trains, never share an array.
        self._workspaces = threading.local()

    def _workspace(self, phase: str) -> Workspace:
        spaces = self._workspaces.__dict__
        if phase not in spaces:
            spaces[phase] = Workspace(self.backend)
        return spaces[phase]

    def workspace_arrays(self) -> list[Any]:
        """Every array this thread's workspaces hold now: a captured step that writes them must
        keep them alive, though a pass of another shape replaces them in the workspace."""
        return [a for space in self._workspaces.__dict__.values() for a in space.arrays()]

    def _forward_array(self, name: str, shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
        """An array of this thread's forward workspace (see :class:`Workspace` for its lifetime)."""
        return self._workspace("forward").array(name, shape, dtype, like)

    def _backward_array(self, name: str, shape: tuple[int, ...], dtype: Any, like: Any = None) -> Any:
        """An array of this thread's backward workspace (see :class:`Workspace` for its lifetime)."""
        return self._workspace("backward").array(name, shape, dtype, like)

    def _matmul(self, a: Any, b: Any, out: Any = None) -> Any:
        """a @ b, through the backend's fused kernels where it has them (cuBLAS called so a
        CUDA graph can capture it), else the array module's."""
        if self.backend.fused is not None:
            return self.backend.fused.matmul(a, b, out)
        return self.xp.matmul(a, b, out=out)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def shown(self, out: Any) -> Any:
        """A copy, for the caller to keep, of this layer's `forward` output as its feature maps
        show it."""
        return out.copy()

    @abstractmethod
    def forward(self, x: Any, params: dict[str, Any], train: bool, rng: Any) -> tuple[Any, Any]:
        """Return the layer's output and what its backward pass needs."""

    @abstractmethod
    def backward(
        self, grad: Any, cache: Any, params: dict[str, Any], need_dx: bool, beside: Beside = INLINE
    ) -> tuple[Any, dict[str, Any]]:
        """Return dL/dinput (None when `need_dx` is false) and dL/dparam for each parameter;
        `beside` may run the parameters' part while the input's is computed."""
