"""Kernels of our own for the host's hottest loops, compiled by Numba where it is installed.

NumPy makes one pass over memory per operation, and over a pixel's few channels its inner loops
cost more in calls than in arithmetic; a compiled loop reads each value once. The kernels run
without the GIL, so the threads that split a batch run them side by side. Numba is imported on
the first kernel's first call, never at the window's start. Without it, or with
``CONVSCOPE_JIT=0``, the layers run their NumPy code, which gives the same results; a GPU never
uses these kernels (it has :mod:`engine.gpu.kernels`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypeVar

from engine.errors import SettingError, clip

ENV_VAR = "CONVSCOPE_JIT"
_SWITCH = {"1": True, "on": True, "yes": True, "0": False, "off": False, "no": False}

F = TypeVar("F", bound=Callable[..., Any])
#: Numba is imported, and each kernel compiled (or loaded from disk) for the first time, by one
#: thread at a time: a compile imports Numba's modules as it goes, and two threads importing a
#: package's interlinked modules at once, or compiling beside those imports, can wait on each
#: other's locks (a training thread and the window's, or the two halves of a batch).
_compile_lock = threading.RLock()


def _wanted() -> bool:
    text = os.environ.get(ENV_VAR, "").strip().lower()
    if not text:
        return True
    if text not in _SWITCH:
        raise SettingError(f"{ENV_VAR} must be 1 or 0 (on or off), got {clip(text, 40)!r}")
    return _SWITCH[text]


@cache
def _numba() -> Any:
    """The numba module, or None where it is switched off or cannot be imported."""
    if not _wanted():
        return None
    with _compile_lock:
        try:
            import numba
        except Exception:  # a missing or broken llvmlite raises more than ImportError
            return None
    return numba


def enabled() -> bool:
    """Whether host layers take the compiled kernels (checked once per process)."""
    return _numba() is not None


def kernel(fn: F) -> F:
    """`fn` compiled on its first call: without the GIL, and cached on disk (beside the source,
    or in the user's cache folder where that is read-only), so later starts skip the compile.
    Arithmetic follows NumPy's error model: x / 0 is ±inf or NaN, as the NumPy code it replaces
    gives, not Python's ZeroDivisionError, whose check also keeps a loop from being vectorised.
    Callers check :func:`enabled` first and pass arrays whose shapes they have checked: compiled
    code does no bounds checks."""
    compiled: list[Callable[..., Any]] = []

    @wraps(fn)
    def call(*args: Any) -> Any:
        if not compiled:
            with _compile_lock:
                if not compiled:
                    dispatcher = _numba().njit(cache=True, nogil=True, error_model="numpy")(fn)
                    result = dispatcher(*args)  # the first compile, under the lock
                    compiled.append(dispatcher)
                    return result
        return compiled[0](*args)

    return call  # type: ignore[return-value]
