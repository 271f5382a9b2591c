"""The one place that chooses the array module: CuPy on a working CUDA device, NumPy otherwise.

Every piece of engine math takes its array functions from a :class:`Backend`, so the same code
runs on the host and on the GPU, and host/device copies happen only where the backend is asked
for them (data in, numbers and images out, weights to disk).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from engine import jit, step_kernels
from engine.errors import DeviceError

DEVICES = ("auto", "cpu", "gpu")
ENV_VAR = "CONVSCOPE_DEVICE"


def rerun(step: Callable[[], None]) -> Callable[[], None]:
    """The host's capture of a training step: replaying it runs the step again. A GPU records
    the step's kernels once instead (:func:`engine.gpu.graph.capture`); on either, what changes
    from one replay to the next must come in through the step's persistent buffers."""
    return step


@dataclass(frozen=True)
class Backend:
    """An array module plus the two explicit edges between it and the host, and what the engine
    does differently where the arrays live."""

    name: str
    xp: Any
    #: Arrays in host memory: a batch is split over the cores' threads, and inference forwards
    #: cache-sized pieces (a GPU takes whole batches on one thread).
    on_host: bool = True
    #: Layers keep their workspaces between batches: a fresh multi-megabyte NumPy array costs
    #: page faults on every batch, where CuPy's memory pool already hands memory back.
    keeps_workspaces: bool = True
    #: Training reads its numbers back (losses, accuracy, the health check) once per this many
    #: images, 0 for every batch: on a GPU each read waits for the queued kernels, and a small
    #: network's steps are shorter than that wait; on the host each read checks every parameter
    #: and copies the last good state, a few percent of a small batch's step.
    images_per_read: int = 0
    #: Records a training step for replay (:func:`rerun` on the host, a CUDA graph on the GPU).
    capture: Callable[[Callable[[], None]], Callable[[], None]] = rerun
    #: Whether training captures its step unless told otherwise (`fit(capture=...)`).
    captures_steps: bool = False
    #: Fused kernels for the step's elementwise chains (:mod:`engine.gpu.kernels`), or None for
    #: plain array operations.
    fused: Any = None
    #: The arrays are NumPy's own, so the host's compiled kernels (:mod:`engine.jit`) may take them.
    numpy_arrays: bool = False

    @property
    def compiled(self) -> bool:
        """Whether layers run the host's compiled kernels here instead of their array code."""
        return self.numpy_arrays and jit.enabled()

    @property
    def step_kernels(self) -> Any:
        """The fused kernels a training step's elementwise chains take (the optimizer's update):
        the GPU's :attr:`fused`, the host's compiled :mod:`engine.step_kernels` where
        :attr:`compiled`, else None for plain array operations."""
        if self.fused is not None:
            return self.fused
        return step_kernels if self.compiled else None

    def to_device(self, a: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a: Any) -> np.ndarray:
        if isinstance(a, np.ndarray):
            return a
        return self.xp.asnumpy(a)

    def as_strided(self, a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        return self.xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)

    def rng(self, seed: int) -> Any:
        """A device-side generator, so dropout masks never cross to the host."""
        return self.xp.random.RandomState(seed)

    def batches_per_read(self, batch_size: int) -> int:
        """How many training batches go by between two reads of their numbers."""
        return max(1, self.images_per_read // batch_size)

    def synchronize(self) -> None:
        if self.name == "gpu":
            self.xp.cuda.Stream.null.synchronize()

    @property
    def description(self) -> str:
        if self.name != "gpu":
            return "CPU (NumPy)"
        device = self.xp.cuda.Device()
        props = self.xp.cuda.runtime.getDeviceProperties(device.id)
        return f"GPU {device.id}: {props['name'].decode()} (CuPy {self.xp.__version__})"


class _NumPyModule:
    """NumPy with CuPy's `asnumpy`, so callers never branch on the backend."""

    def __getattr__(self, name: str) -> Any:
        # Kept on the instance, so the next look-up is a plain attribute's, not a Python call:
        # a training step looks up about 90 of NumPy's functions on each thread, holding the GIL.
        value = getattr(np, name)
        setattr(self, name, value)
        return value

    @staticmethod
    def asnumpy(a: Any) -> np.ndarray:
        return np.asarray(a)


#: The host's reads: once per 256 images (four batches of 64, 25 of 10; a batch of 256 or more
#: is read by itself), about a display tick apart. Each read's health check and copy of the
#: state run on the calling thread while the others wait (tests/benchmarks/README.md).
HOST_IMAGES_PER_READ = 256

NUMPY = Backend("cpu", _NumPyModule(), images_per_read=HOST_IMAGES_PER_READ, numpy_arrays=True)


@cache
def gpu_unavailable_reason() -> str | None:
    """Why CuPy cannot be used here, or None when a CUDA device answers."""
    try:
        import cupy
    except ImportError as exc:
        return (
            f"CuPy is not installed ({exc.msg}); install the extra for your CUDA version, "
            "e.g. pip install 'convscope[cuda12]' (README, GPU)"
        )
    except Exception as exc:  # a broken CUDA install raises all sorts at import
        return f"CuPy failed to import: {exc}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count == 0:
            return "CuPy found no CUDA device"
        cupy.zeros(1).sum().item()
    except Exception as exc:
        return f"CuPy found no working CUDA device: {exc}"
    return None


#: A GPU run's display tick: at 30,000 images a second, about 15 reads a second.
GPU_IMAGES_PER_READ = 2048


@cache
def _gpu_backend() -> Backend:
    import cupy

    from engine.gpu.graph import capture

    return Backend(
        "gpu", cupy, on_host=False, keeps_workspaces=False, images_per_read=GPU_IMAGES_PER_READ,
        capture=capture,
    )


def get_backend(device: str | Backend | None = None) -> Backend:
    """Resolve `device` ("auto", "cpu", "gpu", a Backend, or None for $CONVSCOPE_DEVICE / auto).

    Asking for "gpu" where none works raises :class:`DeviceError`; "auto" falls back to NumPy.
    """
    if isinstance(device, Backend):
        return device
    if device is None:
        device = os.environ.get(ENV_VAR, "auto") or "auto"
    device = device.lower()
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return NUMPY
    reason = gpu_unavailable_reason()
    if reason is None:
        return _gpu_backend()
    if device == "gpu":
        raise DeviceError(f"GPU requested but unavailable: {reason}")
    return NUMPY
