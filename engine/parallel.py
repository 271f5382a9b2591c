"""Data parallelism on the host: a batch split across threads, one per core.

NumPy lets go of the GIL inside copies, ufuncs and BLAS calls, which is nearly all of a step,
so threads that each take a slice of a batch run side by side. Each thread keeps its own layer
workspaces (see `engine.layers.base`) and a one-thread BLAS: a multi-threaded BLAS spreads
only the GEMMs over the cores, leaving im2col, activations, pooling and col2im on one, and its
spinning threads slowed training up to 20x whenever anything else wanted a core
(tests/benchmarks/README.md has the figures).
"""

from __future__ import annotations

import contextvars
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from engine.backend import Backend
from engine.errors import SettingError, clip

THREADS_VAR = "CONVSCOPE_THREADS"
#: More threads than any machine this runs on has cores; a larger count is a typo.
MAX_THREADS = 1024
#: The fewest images a thread is given from a training batch: below this its share of Python
#: overhead outweighs the work it takes off the other threads.
MIN_PART = 8

T = TypeVar("T")


def parse_threads(text: str, what: str = THREADS_VAR) -> int:
    """A thread count from text (a whole number from 1 to MAX_THREADS), else :class:`SettingError`
    naming `what`."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= MAX_THREADS:
        raise SettingError(f"{what} must be a whole number from 1 to {MAX_THREADS}, got {clip(text, 40)!r}")
    return int(text)


def default_threads() -> int:
    """$CONVSCOPE_THREADS, or the cores this process may run on."""
    value = os.environ.get(THREADS_VAR, "").strip()
    if value:
        return parse_threads(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convscope-part")


class Beside:
    """Runs independent work on a thread the batch left idle, or inline where there is none."""

    def __init__(self, pool: ThreadPoolExecutor | None = None):
        self._pool = pool

    def start(self, fn: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Start fn(*args); the returned function waits for its result."""
        if self._pool is None:
            result = fn(*args)
            return lambda: result
        return self._pool.submit(contextvars.copy_context().run, fn, *args).result


INLINE = Beside()


class Threads:
    """Runs a function over the slices of a batch, the first slice on the calling thread."""

    def __init__(self, count: int):
        self.count = max(1, count)

    def slices(self, n: int, min_part: int = MIN_PART) -> list[slice]:
        parts = max(1, min(self.count, n // min_part))
        bounds = [n * p // parts for p in range(parts + 1)]
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def spare(self, n: int, min_part: int = MIN_PART) -> Beside:
        """Where the part of an n-image batch can run work of its own beside it: on a thread that
        a batch too small to split leaves idle (a layer's weight gradient beside its input
        gradient: a batch of 10 trained about 8% faster on two cores), else inline."""
        if self.count > 1 and len(self.slices(n, min_part)) == 1:
            return Beside(_pool(self.count - 1))
        return INLINE

    def map(self, fn: Callable[[int, slice], T], n: int, min_part: int = MIN_PART) -> list[T]:
        """[fn(part, slice) for each slice of range(n)]; every part has finished on return,
        also when one raised, so no thread still writes into a buffer the caller reuses."""
        slices = self.slices(n, min_part)
        if len(slices) == 1:
            return [fn(0, slices[0])]
        # Each part runs in a copy of the caller's context, so settings such as np.errstate
        # reach the pool's threads too.
        futures = [
            _pool(self.count - 1).submit(contextvars.copy_context().run, fn, p, s)
            for p, s in enumerate(slices[1:], 1)
        ]
        try:
            first = fn(0, slices[0])
        finally:
            wait(futures)
        return [first] + [f.result() for f in futures]


@cache
def _host_blas() -> Any:
    """The host BLAS libraries (NumPy's, loaded with it), found once: threadpoolctl's search of
    the process's libraries costs more than a forward pass of one image."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


_pin_lock = threading.Lock()
_pin_users = 0
_pin: Any = None


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Pin the host BLAS to one thread until the last concurrent user leaves: the window's
    thread may predict while its worker trains, and a nested pin's exit must not unpin the run
    still going."""
    global _pin_users, _pin
    from threadpoolctl import OpenBLASController

    with _pin_lock:
        if _pin_users == 0:
            # threadpoolctl lets only the first thread that limited OpenBLAS change it again;
            # the pin and its release may come from different threads here.
            OpenBLASController.clear_controlling_thread(force=True)
            _pin = _host_blas().limit(limits=1)
        _pin_users += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pin_users -= 1
            if _pin_users == 0:
                OpenBLASController.clear_controlling_thread(force=True)
                _pin.restore_original_limits()
                OpenBLASController.clear_controlling_thread(force=True)
                _pin = None


@contextmanager
def host_threads(backend: Backend, threads: int | None = None) -> Iterator[Threads]:
    """Threads for `backend` (one on the GPU), with the host BLAS pinned to one thread each."""
    if not backend.on_host:
        yield Threads(1)
        return
    with _one_blas_thread():
        yield Threads(default_threads() if threads is None else threads)
