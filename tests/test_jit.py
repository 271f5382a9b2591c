"""The compiled kernels' switch: on by default where Numba imports, off with CONVSCOPE_JIT=0,
and a value that is neither refused with the variable's name."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from engine import jit
from engine.errors import SettingError


@jit.kernel
def _scaled_sum(a, scale):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * scale
    return total


@jit.kernel
def _quotients(a, b, out):
    for i in range(a.shape[0]):
        out[i] = a[i] / b[i]


def _enabled_in_child(value: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    if value is not None:
        env["CONVSCOPE_JIT"] = value
    code = "import sys, engine.jit as j; print(j.enabled(), 'numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_kernels_are_on_by_default_and_off_with_the_variable():
    assert _enabled_in_child(None) == "True True"
    assert _enabled_in_child("1") == "True True"
    assert _enabled_in_child("0") == "False False"
    assert _enabled_in_child(" OFF ") == "False False"


def test_a_value_that_is_not_a_switch_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CONVSCOPE_JIT", "fast")
    jit._numba.cache_clear()
    try:
        with pytest.raises(SettingError, match="CONVSCOPE_JIT must be 1 or 0.*'fast'"):
            jit.enabled()
    finally:
        monkeypatch.delenv("CONVSCOPE_JIT")
        jit._numba.cache_clear()


def test_importing_the_engine_does_not_import_numba():
    code = "import sys, engine.network, engine.training, engine.jit; print('numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")
def test_a_kernel_called_from_several_threads_at_once_computes_what_python_does():
    a = np.arange(1000, dtype=np.float64)
    results = []
    threads = [threading.Thread(target=lambda: results.append(_scaled_sum(a, 0.5))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [a.sum() * 0.5] * 4


def test_only_numpys_own_arrays_take_the_compiled_kernels(host_kernels):
    from strict_backend import STRICT

    from engine.backend import NUMPY

    assert NUMPY.compiled is (host_kernels == "compiled")
    assert STRICT.compiled is False


@pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")
def test_a_kernel_divides_by_zero_as_numpy_does():
    a, b = np.array([1.0, -1.0, 0.0, 6.0]), np.array([0.0, 0.0, 0.0, 3.0])
    out = np.empty(4)
    _quotients(a, b, out)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(out, a / b)


def test_numba_is_imported_and_each_kernel_first_compiled_by_one_thread_at_a_time(monkeypatch):
    """The first call's compile runs under the lock that the import of Numba takes too, so no two
    threads import Numba's modules or compile beside each other's imports."""
    held = []

    class FakeNumba:
        @staticmethod
        def njit(**options):
            def wrap(fn):
                def dispatcher(*args):
                    held.append(jit._compile_lock._is_owned())
                    return fn(*args)

                return dispatcher

            return wrap

    monkeypatch.setattr(jit, "_numba", lambda: FakeNumba)

    @jit.kernel
    def twice(x):
        return 2 * x

    assert [twice(1), twice(2)] == [2, 4]
    assert held == [True, False]  # the first call compiles under the lock; later ones run freely
