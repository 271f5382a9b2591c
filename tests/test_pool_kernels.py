"""The pooling layers' compiled kernels against their NumPy code: the same maps and gradients,
bit for bit, over odd sizes, overlapping and gapped windows, ties, NaN, both float types and
both memory layouts; the same layouts and reused workspaces; and no index out of range (the
kernels run once under Numba's bounds checks)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_layers import GRADIENT_SPECS
from test_layers import test_gradients_match_finite_differences as finite_difference_check

from engine import jit
from engine.backend import NUMPY
from engine.layers import make_layer
from engine.spec import infer

needs_numba = pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")


def _pool(mode, size, stride, input_shape, masks_relu=False):
    spec = {
        "input": list(input_shape),
        "classes": 2,
        "layers": [
            {"type": "pool", "mode": mode, "size": list(size), "stride": list(stride)},
            {"type": "softmax"},
        ],
    }
    layer = make_layer(infer(spec)[0], NUMPY)
    layer.masks_relu = masks_relu
    return layer


def _passes(layer, x, grad_of, train, compiled, monkeypatch):
    """Forward then backward with the kernels or with NumPy's code: copies of the output, dx,
    and their strides."""
    monkeypatch.setattr(jit, "enabled", lambda: compiled)
    out, cache = layer.forward(x, {}, train, None)
    dx, _ = layer.backward(grad_of(out), cache, {}, True)
    return out.copy(), dx.copy(), out.strides, dx.strides


def _nhwc(a):
    """`a` (N, C, H, W) as a view of NHWC memory, as a conv hands its maps on."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


#: Each window size compiles its own kernels (once, then from the disk cache): 1 to 3 a side
#: covers tiling, overlapping and gapped windows.
_pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@needs_numba
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    mode=st.sampled_from(["max", "mean"]),
    size=_pairs,
    stride=_pairs,
    images=st.integers(2, 3),  # one image keeps the NumPy code (pool.MIN_IMAGES)
    channels=st.integers(1, 21),
    height=st.integers(4, 11),
    width=st.integers(4, 11),
    dtype=st.sampled_from([np.float32, np.float64]),
    nhwc=st.booleans(),
    masks_relu=st.booleans(),
    train=st.booleans(),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_kernels_give_numpys_maps_and_gradients_bit_for_bit(
    mode, size, stride, images, channels, height, width, dtype, nhwc, masks_relu, train, ties, seed,
    monkeypatch,
):
    """Small integers tie often (the first maximum in the window takes the gradient on both
    paths); overlapping windows add their shares in the same order; windows that do not fit
    are dropped and pixels in no window get none."""
    masks_relu = masks_relu and mode == "max"
    rng = np.random.default_rng(seed)
    shape = (images, channels, height, width)
    x = (rng.integers(-2, 3, size=shape) if ties else rng.normal(size=shape)).astype(dtype)
    x = _nhwc(x) if nhwc else x
    grads = {}

    def grad_of(out):
        if out.shape not in grads:
            grads[out.shape] = _nhwc(rng.normal(size=out.shape).astype(dtype))
        return grads[out.shape]

    compiled = _passes(_pool(mode, size, stride, shape[1:], masks_relu), x, grad_of, train, True, monkeypatch)
    plain = _passes(_pool(mode, size, stride, shape[1:], masks_relu), x, grad_of, train, False, monkeypatch)
    for a, b in zip(compiled[:2], plain[:2], strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert compiled[2:] == plain[2:]  # the same memory layout, NHWC where the input is


#: test_layers' finite-difference cases whose gradient passes through a pool.
THROUGH_A_POOL = [
    name for name, spec in GRADIENT_SPECS.items() if any(layer["type"] == "pool" for layer in spec["layers"])
]


@pytest.mark.parametrize("name", THROUGH_A_POOL)
def test_the_finite_difference_checks_through_a_pool_pass_on_both_paths(name, host_kernels):
    finite_difference_check(name, NUMPY)


@needs_numba
@pytest.mark.parametrize("mode", ["max", "mean"])
def test_nan_in_a_window_is_its_maximum_and_its_mean_on_both_paths(mode, monkeypatch):
    x = _nhwc(np.arange(2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6))
    x[0, 1, 2, 3] = np.nan
    layer = _pool(mode, (2, 2), (2, 2), (3, 6, 6), mode == "max")
    results = [_passes(layer, x, np.ones_like, True, compiled, monkeypatch)[0] for compiled in (True, False)]
    np.testing.assert_array_equal(*results)
    assert np.isnan(results[0][0, 1, 1, 1]) and np.isnan(results[0]).sum() == 1


@needs_numba
@pytest.mark.parametrize("masks_relu", [False, True])
def test_a_window_whose_maximum_is_nan_sends_its_gradient_nowhere_on_both_paths(masks_relu, monkeypatch):
    """NumPy's code finds the maximum's pixel by equality, which NaN never meets; the kernel once
    sent the gradient to the window's last NaN (found by the QA pass)."""
    nan = np.nan
    x = np.array([[[[nan, 1, nan]]], [[[2, nan, 0]]]], np.float32)
    layer = _pool("max", (1, 3), (1, 3), (1, 1, 3), masks_relu)
    compiled, plain = (_passes(layer, x, np.ones_like, True, c, monkeypatch) for c in (True, False))
    np.testing.assert_array_equal(compiled[0], plain[0])
    np.testing.assert_array_equal(compiled[1], plain[1])
    assert not compiled[1].any()


@needs_numba
def test_a_max_pool_records_its_winners_in_a_byte_each_and_reuses_its_workspaces(monkeypatch):
    """The winners of a batch back the backward pass (one byte per output while the window has
    fewer than 255 pixels); a second batch of the same size, and a smaller last one, write into
    the same memory; the NumPy path's backward buffers are never made."""
    layer = _pool("max", (2, 2), (2, 2), (20, 24, 24), masks_relu=True)
    x = _nhwc(np.random.default_rng(0).normal(size=(8, 20, 24, 24)).astype(np.float32))
    first, cache = layer.forward(x, {}, True, None)
    winners = cache[2]
    assert winners.dtype == np.uint8 and winners.shape == first.shape
    assert winners.strides == tuple(s // 4 for s in first.strides)  # NHWC, as the maps
    dx, _ = layer.backward(np.ones_like(first), cache, {}, True)
    again, cache = layer.forward(x, {}, True, None)
    assert again is first and cache[2] is winners
    last, cache = layer.forward(x[:3], {}, True, None)
    assert np.shares_memory(last, first) and np.shares_memory(cache[2], winners)
    assert np.shares_memory(layer.backward(np.ones_like(last), cache, {}, True)[0], dx)
    assert {a.dtype for a in layer.workspace_arrays()} == {np.dtype(np.float32), np.dtype(np.uint8)}


@needs_numba
def test_a_window_of_more_than_254_pixels_records_its_winners_in_two_bytes(monkeypatch):
    layer = _pool("max", (16, 16), (16, 16), (2, 32, 32))
    x = _nhwc(np.random.default_rng(1).normal(size=(2, 2, 32, 32)))
    plain = _passes(layer, x, np.ones_like, True, False, monkeypatch)
    compiled = _passes(layer, x, np.ones_like, True, True, monkeypatch)
    assert layer.forward(x, {}, True, None)[1][2].dtype == np.uint16
    np.testing.assert_array_equal(compiled[1], plain[1])


def test_a_pass_of_one_image_keeps_numpys_code_and_does_not_load_numba():
    """The live views' one-image pass runs on the window's thread just after it shows: loading
    Numba there would hold the window for most of a second."""
    code = (
        "import sys, numpy as np\n"
        "from engine.backend import NUMPY\n"
        "from engine.layers import make_layer\n"
        "from engine.spec import infer\n"
        "layers = [{'type': 'pool', 'size': 2}, {'type': 'softmax'}]\n"
        "spec = {'input': [3, 8, 8], 'classes': 2, 'layers': layers}\n"
        "layer = make_layer(infer(spec)[0], NUMPY)\n"
        "out, cache = layer.forward(np.ones((1, 3, 8, 8), np.float32), {}, False, None)\n"
        "layer.backward(np.ones_like(out), cache, {}, True)\n"
        "print(cache[2] is None, 'numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.stdout.split() == ["True", "False"], done.stderr[-2000:]


@needs_numba
def test_the_kernels_stay_in_bounds_under_numbas_checks(tmp_path):
    """This file's comparisons run again in a process where Numba checks every index (and
    compiles afresh into an empty cache), so an index out of range raises there."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "not under_numbas_checks"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
