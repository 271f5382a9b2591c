"""The host's compiled step kernels (engine/step_kernels.py) compute what the NumPy code and the
GPU's fused kernels (mirrored by test_fused's stand-in) compute, to the bit, and training through
them is the same run as through NumPy's array operations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from small_network import SMALL
from test_fused import StandIn

from engine import SGD, Adam, Network, fit, jit, step_kernels
from engine.backend import NUMPY

needs_numba = pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")

SHAPES = st.lists(
    st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple), min_size=1, max_size=5
)


def _tensors(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _numpy_steps(params, grads, momentum, l2s, lr, steps):
    """SGD._update, the NumPy rule, over `steps` steps (names decide which parameters decay)."""
    opt = SGD(lr=lr, momentum=momentum, l2=max(l2s))
    kinds = ["weight" if l2 else "bias" for l2 in l2s]
    named = {f"p{i}.{kind}": p for i, (p, kind) in enumerate(zip(params, kinds, strict=True))}
    for _ in range(steps):
        opt.update(named, dict(zip(named, grads, strict=True)), lr)
    return opt


@needs_numba
@settings(max_examples=40, deadline=None)
@given(
    shapes=SHAPES,
    dtype=st.sampled_from([np.float32, np.float64]),
    momentum=st.sampled_from([0.0, 0.9]),
    l2=st.sampled_from([0.0, 1e-3]),
    seed=st.integers(0, 2**16),
)
def test_the_compiled_update_is_numpys_and_the_gpus_to_the_bit(shapes, dtype, momentum, l2, seed):
    params, grads = _tensors(shapes, dtype, seed), _tensors(shapes, dtype, seed + 1)
    l2s = [l2 if i % 2 == 0 else 0.0 for i in range(len(params))]
    numpy_params, stand_in_params, compiled = ([p.copy() for p in params] for _ in range(3))
    _numpy_steps(numpy_params, grads, momentum, l2s, 0.05, 3)
    velocities = [np.zeros_like(p) for p in params] if momentum else None
    stand_in_velocities = [np.zeros_like(p) for p in params] if momentum else None
    for _ in range(3):
        step_kernels.sgd_all(compiled, grads, velocities, 0.05, momentum, l2s)
        StandIn(np).sgd_all(stand_in_params, grads, stand_in_velocities, dtype(0.05), momentum, l2s)
    for mine, numpys, gpus in zip(compiled, numpy_params, stand_in_params, strict=True):
        np.testing.assert_array_equal(mine, numpys)
        np.testing.assert_array_equal(mine, gpus)


@needs_numba
@settings(max_examples=30, deadline=None)
@given(
    shapes=SHAPES,
    dtype=st.sampled_from([np.float32, np.float64]),
    l2=st.sampled_from([0.0, 1e-3]),
    seed=st.integers(0, 2**16),
)
def test_the_compiled_adam_is_numpys_to_the_bit(shapes, dtype, l2, seed):
    params, grads = _tensors(shapes, dtype, seed), _tensors(shapes, dtype, seed + 1)
    named = {f"p{i}.{'weight' if i % 2 == 0 else 'bias'}": p for i, p in enumerate(params)}
    numpy_params = {k: p.copy() for k, p in named.items()}
    plain, compiled = Adam(lr=0.01, l2=l2), Adam(lr=0.01, l2=l2)
    for _ in range(3):
        plain.step(numpy_params, dict(zip(named, grads, strict=True)))
        compiled.step(named, dict(zip(named, grads, strict=True)), None, step_kernels)
    for k in named:
        np.testing.assert_array_equal(named[k], numpy_params[k], err_msg=k)
    for k in plain.state:
        np.testing.assert_array_equal(compiled.state[k], plain.state[k], err_msg=k)


@needs_numba
def test_strided_parameters_are_updated_where_they_lie_and_read_only_ones_refused():
    rng = np.random.default_rng(0)
    param = np.asfortranarray(rng.standard_normal((5, 3)).astype(np.float32))
    wide = rng.standard_normal((5, 6)).astype(np.float32)
    velocity = wide[:, ::2]  # a strided view of a larger array
    grad = rng.standard_normal((3, 5)).astype(np.float32).T
    expected_param, expected_velocity = param.copy(), velocity.copy()
    expected_velocity *= 0.9
    expected_velocity += grad
    expected_param -= np.float32(0.1) * expected_velocity
    before = wide.copy()
    step_kernels.sgd_all([param], [grad], [velocity], 0.1, 0.9, [0.0])
    np.testing.assert_array_equal(param, expected_param)
    np.testing.assert_array_equal(wide[:, ::2], expected_velocity)
    np.testing.assert_array_equal(wide[:, 1::2], before[:, 1::2])  # its neighbours untouched

    frozen = np.ones(4, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        step_kernels.sgd_all([frozen], [np.ones(4, np.float32)], None, 0.1, 0.0, [0.0])


@needs_numba
def test_a_gradient_of_another_size_is_refused_before_the_kernel_runs_and_no_parameters_are_no_step():
    step_kernels.sgd_all([], [], [], 0.1, 0.9, [])
    step_kernels.adam_all([], [], [], [], 0.1, 0.9, 0.999, 1e-8, [])
    with pytest.raises(ValueError, match=r"shape \(5,\) beside a parameter of 4 values"):
        step_kernels.sgd_all([np.ones(4, np.float32)], [np.ones(5, np.float32)], None, 0.1, 0.0, [0.0])


@needs_numba
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 13),
    classes=st.integers(2, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    ties=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_compiled_cross_entropy_is_numpys_and_the_gpus(n, classes, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, classes))
    if ties:  # whole rows of equal maxima: the first is the answer, as argmax has it
        logits[:, ::2] = logits.max()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = probs.astype(dtype)
    probs[0, 0] = 0  # below the floor: log(tiny), not -inf
    y = rng.integers(0, classes, n)
    scale, tiny = 1.0 / (n + 3), np.finfo(dtype).tiny
    loss, right, grad = step_kernels.cross_entropy(probs, y, scale, tiny)
    # The stand-in's are Network._scores' array operations.
    numpys_loss, numpys_right, numpys_grad = StandIn(np).cross_entropy(probs, y, scale, tiny)
    np.testing.assert_array_equal(grad, numpys_grad)
    assert right == numpys_right
    assert loss == numpys_loss
    assert grad.dtype == loss.dtype == dtype


@needs_numba
def test_a_nan_probability_gives_a_nan_cost_and_a_label_out_of_range_is_refused():
    probs = np.full((2, 3), 1 / 3, np.float32)
    probs[1, 2] = np.nan
    loss, _, _ = step_kernels.cross_entropy(probs, np.array([0, 2]), 0.5, 1e-30)
    assert np.isnan(loss)
    with pytest.raises(IndexError, match="outside the network's classes"):
        step_kernels.cross_entropy(probs, np.array([0, 3]), 0.5, 1e-30)
    with pytest.raises(ValueError, match="3 labels for 2 rows"):
        step_kernels.cross_entropy(probs, np.array([0, 1, 2]), 0.5, 1e-30)


def test_the_host_takes_the_step_kernels_only_where_compiled(host_kernels):
    assert NUMPY.step_kernels is (step_kernels if host_kernels == "compiled" else None)


def _trained(small_train, make_optimizer):
    net = Network(SMALL, seed=3, device="cpu")
    opt = make_optimizer()
    history = fit(net, small_train, epochs=2, batch_size=32, optimizer=opt, threads=1)
    return net.state_dict(), opt.state_dict(net.backend), history.batch_loss


@needs_numba
@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: SGD(lr=0.05), lambda: SGD(lr=0.05, momentum=0.0, l2=1e-3), lambda: SGD(lr=0.05, l2=0.0), Adam],
    ids=["sgd", "sgd-no-momentum", "sgd-no-l2", "adam"],
)
def test_training_through_the_compiled_kernels_is_the_numpy_run(small_train, monkeypatch, make_optimizer):
    compiled = _trained(small_train, make_optimizer)
    monkeypatch.setattr(jit, "enabled", lambda: False)
    plain = _trained(small_train, make_optimizer)
    assert compiled[2] == plain[2]
    for mine, theirs in zip(compiled[:2], plain[:2], strict=True):
        assert mine.keys() == theirs.keys()
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k], err_msg=k)


@needs_numba
def test_the_kernels_index_within_their_arrays(tmp_path):
    """These tests again with Numba's bounds checks on (and a cache of their own, so the kernels
    are compiled with them): an index out of range raises instead of writing past an array."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path), "CONVSCOPE_JIT": "1"}
    here = Path(__file__)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here), "-k", "not index_within"],
        cwd=here.parent.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
