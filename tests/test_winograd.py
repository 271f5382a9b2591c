"""Winograd convolution (engine.winograd): exact transforms, and a conv layer that takes it
giving im2col's maps and gradients."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strict_backend import STRICT
from test_export import TOLERANCE, onnx_probabilities
from test_layers import GRADIENT_SPECS
from test_layers import test_gradients_match_finite_differences as finite_difference_check

from engine import Network, jit, winograd
from engine.backend import NUMPY
from engine.layers import make_layer
from engine.network import default_spec
from engine.onnx_export import to_onnx
from engine.spec import infer


@pytest.mark.parametrize("m, r", [(4, 5), (4, 3)])
def test_the_transforms_compute_a_correlation_exactly(m, r):
    """In exact arithmetic Aᵀ [(G g) ⊙ (Bᵀ d)] is the correlation of d with g, for any d, g."""
    a_t, g, b_t = winograd.toom_cook(m, r)
    alpha = m + r - 1
    rng = random.Random(r)
    for _ in range(20):
        d = [Fraction(rng.randint(-99, 99), rng.randint(1, 9)) for _ in range(alpha)]
        h = [Fraction(rng.randint(-99, 99), rng.randint(1, 9)) for _ in range(r)]
        kernel = [sum(g[j][k] * h[k] for k in range(r)) for j in range(alpha)]
        data = [sum(b_t[j][i] * d[i] for i in range(alpha)) for j in range(alpha)]
        y = [sum(a_t[i][j] * kernel[j] * data[j] for j in range(alpha)) for i in range(m)]
        assert y == [sum(h[u] * d[i + u] for u in range(r)) for i in range(m)]


def _conv(channels, size, filters, kernel, padding, dtype, backend=NUMPY):
    """A conv layer on square inputs of side `size`, or (rows, cols)."""
    rows, cols = (size, size) if isinstance(size, int) else size
    spec = {
        "input": [channels, rows, cols],
        "classes": 3,
        "layers": [
            {"type": "conv", "filters": filters, "kernel": kernel, "padding": padding, "activation": "relu"},
            {"type": "softmax"},
        ],
    }
    return make_layer(infer(spec)[0], backend)


def _both_ways(layer, x, params, grad, monkeypatch):
    """(maps, dL/dx, gradients) through Winograd and through im2col."""
    results = []
    for use in (True, False):
        if not use:
            monkeypatch.setattr(winograd, "plan", lambda *args: None)
        assert (layer._winograd(len(x), x.dtype) is not None) == use
        out, cache = layer.forward(x, params, True, None)
        out = out.copy()
        dx, grads = layer.backward(grad, cache, params, True)
        results.append((out, dx.copy(), {k: v.copy() for k, v in grads.items()}))
    return results


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    channels=st.integers(2, 5),
    filters=st.integers(1, 6),
    kernel=st.sampled_from([3, 5]),
    blocks=st.integers(1, 3),
    padding=st.integers(0, 2),
    images=st.integers(1, 5),
    block_images=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_a_winograd_conv_gives_im2cols_maps_and_gradients(
    host_kernels, channels, filters, kernel, blocks, padding, images, block_images, seed
):
    """In float64, to rounding: outputs of 4·blocks, any padding, and images taken a few at a
    time (BLOCK_BYTES set to `block_images` images, so the last block may be shorter); with
    fewer channels than the speed rule asks for, which is about speed only."""
    size = 4 * blocks + kernel - 1 - 2 * padding
    if size < 1:
        return
    rng = np.random.default_rng(seed)
    layer = _conv(channels, size, filters, kernel, padding, np.float64)
    weight = rng.normal(size=(filters, channels, kernel, kernel))
    params = {"weight": weight, "bias": rng.normal(size=filters)}
    x = rng.normal(size=(images, channels, size, size))
    grad = rng.normal(size=(images, *layer.output_shape))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(winograd, "MIN_CHANNELS", dict.fromkeys(winograd.BLOCK, 1))
        monkeypatch.setattr(winograd, "MIN_IMAGES", 1)
        t = winograd.plan((kernel, kernel), 1, layer.output_shape[1:], channels, images, np.float64)
        per_image = t.alpha**2 * blocks * blocks * max(channels, filters) * 8
        monkeypatch.setattr(winograd, "BLOCK_BYTES", block_images * per_image)
        (out, dx, grads), (out0, dx0, grads0) = _both_ways(layer, x, params, grad, monkeypatch)
    np.testing.assert_allclose(out, out0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(dx, dx0, rtol=1e-9, atol=1e-9)
    for key in grads0:
        np.testing.assert_allclose(grads[key], grads0[key], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("images", [10, 64])
def test_float32_winograd_stays_within_a_few_ulps_of_the_largest_value(images, host_kernels, monkeypatch):
    """The default network's second conv in float32 against float64: F(4, 5)'s transforms have
    entries from 1/36 to 5.25, so its rounding error, relative to the largest output or
    gradient, is about 10× im2col's (measured 4e-6 to 2e-5 at 10 to 128 images, against
    5e-7): a few hundred float32 ulps, far inside what SGD notices; 1e-4 keeps a margin."""
    rng = np.random.default_rng(1)
    params64 = {"weight": rng.normal(0, 0.1, (40, 20, 5, 5)), "bias": rng.normal(0, 0.1, 40)}
    x64 = rng.normal(size=(images, 20, 12, 12))
    grad64 = rng.normal(size=(images, 40, 8, 8))
    exact = _both_ways(_conv(20, 12, 40, 5, 0, np.float64), x64, params64, grad64, monkeypatch)[1]
    monkeypatch.undo()
    single = _conv(20, 12, 40, 5, 0, np.float32)
    params = {k: v.astype(np.float32) for k, v in params64.items()}
    assert single._winograd(2, np.float32) is not None
    out, cache = single.forward(x64.astype(np.float32), params, True, None)
    out = out.copy()
    dx, grads = single.backward(grad64.astype(np.float32), cache, params, True)
    for got, want in [(out, exact[0]), (dx, exact[1]), *((grads[k], exact[2][k]) for k in grads)]:
        assert got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_the_default_network_takes_winograd_for_its_second_conv_only():
    """Conv 0 has one input channel (im2col measured faster there); conv 2 takes F(4, 5)."""
    net = Network(default_spec(), device=NUMPY)
    convs = [layer for layer in net.layers if layer.info.type == "conv"]
    assert [layer._winograd(2, np.float32) is not None for layer in convs] == [False, True]


def test_the_finite_difference_check_covers_a_winograd_conv():
    """test_layers' gradient check of this spec goes through Winograd's second conv."""
    net = Network(GRADIENT_SPECS["winograd-conv-on-conv-relu-maxpool"], device=NUMPY, dtype=np.float64)
    assert [layer._winograd(2, np.float64) is not None for layer in net.layers[:2]] == [False, True]


def test_stride_kernel_output_size_channels_and_one_image_it_does_not_take_keep_im2col():
    assert winograd.plan((5, 5), 1, (8, 8), 3, 2, np.float32) is None
    assert winograd.plan((3, 3), 1, (8, 8), 8, 2, np.float32) is None
    assert winograd.plan((5, 5), 2, (8, 8), 20, 2, np.float32) is None
    assert winograd.plan((5, 3), 1, (8, 8), 20, 2, np.float32) is None
    assert winograd.plan((7, 7), 1, (8, 8), 20, 2, np.float32) is None
    assert winograd.plan((5, 5), 1, (8, 6), 20, 2, np.float32) is None
    assert winograd.plan((5, 5), 1, (8, 8), 20, 1, np.float32) is None
    assert winograd.plan((5, 5), 1, (8, 8), 20, 2, np.float32).m == 4


def test_the_gpus_path_keeps_its_gemms():
    """CuPy's path is measured as it is: a backend whose array module is not NumPy (the strict
    test backend, which refuses NumPy calls on its arrays as CuPy does), or one with fused
    kernels (test_fused's stand-ins for the GPU's), never takes Winograd."""
    assert _conv(20, 12, 40, 5, 0, np.float32)._winograd(2, np.float32) is not None
    assert _conv(20, 12, 40, 5, 0, np.float32, STRICT)._winograd(2, np.float32) is None
    with_fused = dataclasses.replace(NUMPY, fused=object())
    assert _conv(20, 12, 40, 5, 0, np.float32, with_fused)._winograd(2, np.float32) is None


def _pass(layer, x, params, grad, compiled):
    """(maps, dL/dx, gradients) of one forward and backward pass, with the compiled copies or not."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        if not compiled:
            monkeypatch.setattr(jit, "enabled", lambda: False)
        assert layer.backend.compiled is compiled
        out, cache = layer.forward(x, params, True, None)
        out = out.copy()
        dx, grads = layer.backward(grad, cache, params, True)
        return out, dx.copy(), {k: v.copy() for k, v in grads.items()}


@pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")
@settings(max_examples=25, deadline=None)
@given(
    channels=st.integers(1, 6),
    filters=st.integers(1, 5),
    kernel=st.sampled_from([3, 5]),
    blocks=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.integers(0, 2),
    images=st.integers(1, 4),
    block_images=st.integers(1, 3),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_the_compiled_copies_give_numpys_bits(
    channels, filters, kernel, blocks, padding, images, block_images, dtype, seed
):
    """The tiles' gather, the blocks' scatter with the bias, dY's gather and the tiles' adding
    back onto dL/dx compiled (engine.jit) give the NumPy path's maps and gradients bit for bit:
    the same copies, and the same additions in the same order. Non-square outputs of odd
    sizes (padded inputs of odd sides), one image, several channels, and several blocks a pass
    with a shorter last."""
    rows, cols = (4 * b + kernel - 1 - 2 * padding for b in blocks)
    if min(rows, cols) < 1:
        return
    rng = np.random.default_rng(seed)
    layer = _conv(channels, (rows, cols), filters, kernel, padding, dtype)
    params = {"weight": rng.normal(size=(filters, channels, kernel, kernel)).astype(dtype),
              "bias": rng.normal(size=filters).astype(dtype)}
    x = rng.normal(size=(images, channels, rows, cols)).astype(dtype)
    grad = rng.normal(size=(images, *layer.output_shape)).astype(dtype)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(winograd, "MIN_CHANNELS", dict.fromkeys(winograd.BLOCK, 1))
        monkeypatch.setattr(winograd, "MIN_IMAGES", 1)
        t = layer._winograd(images, dtype)
        per_image = t.alpha**2 * blocks[0] * blocks[1] * max(channels, filters) * np.dtype(dtype).itemsize
        monkeypatch.setattr(winograd, "BLOCK_BYTES", block_images * per_image)
        (out, dx, grads), (out0, dx0, grads0) = (_pass(layer, x, params, grad, c) for c in (True, False))
    np.testing.assert_array_equal(out, out0)
    np.testing.assert_array_equal(dx, dx0)
    for key in grads0:
        np.testing.assert_array_equal(grads[key], grads0[key])


def test_the_finite_difference_check_passes_on_both_paths(host_kernels):
    finite_difference_check("winograd-conv-on-conv-relu-maxpool", NUMPY)


def test_the_default_network_agrees_with_its_onnx_export_on_both_paths(host_kernels):
    """Conv 2 through Winograd (three images), against ONNX Runtime's convolution."""
    net = Network(default_spec(), device=NUMPY, seed=4)
    rng = np.random.default_rng(2)
    net.load_state_dict({k: rng.normal(0, 0.2, v.shape) for k, v in net.state_dict().items()})
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    assert net.layers[2]._winograd(len(x), np.float32) is not None
    np.testing.assert_allclose(onnx_probabilities(to_onnx(net).SerializeToString(), x),
                               net.predict_proba(x), rtol=0, atol=TOLERANCE)


@pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")
def test_the_compiled_copies_stay_inside_their_arrays(tmp_path):
    """This file's compiled-path tests again in a child whose kernels check every index
    (NUMBA_BOUNDSCHECK=1, compiled afresh into a cache of its own): an index out of range raises
    there instead of writing past an array."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    tests = "compiled and not stay_inside"  # the tests and cases that run the compiled copies
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", tests],
        env=env, capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " deselected" in done.stdout


@pytest.mark.parametrize("name, shape", [("bias", (2,)), ("both", None)])
def test_a_parameter_of_another_shape_is_refused_before_the_copies_run(name, shape, host_kernels):
    """net.params is live: an array of another shape written into it reaches the pass. The
    compiled copies read the bias for each of the weights' filters and check no bounds, so a bias
    shorter than the filters is refused first (it read past the bias), on both paths alike."""
    conv = {"type": "conv", "filters": 4, "kernel": 3, "padding": "same"}
    net = Network({"input": [16, 8, 8], "classes": 3, "layers": [conv, {"type": "softmax"}]})
    x = np.random.default_rng(0).standard_normal((4, 16, 8, 8)).astype(np.float32)
    assert net.layers[0]._winograd(len(x), np.float32) is not None
    if name == "bias":
        net.params["layers.0.bias"] = np.zeros(shape, np.float32)
    else:  # more filters in the weights than in the bias
        net.params["layers.0.weight"] = np.zeros((6, 16, 3, 3), np.float32)
    with pytest.raises(ValueError, match="bias"):
        net.predict_proba(x)
