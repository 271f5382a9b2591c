"""Layer workspaces: arrays reused from batch to batch give exactly what fresh arrays give, in
float64, through every pass the engine makes (training steps on one and two threads, a small
batch whose weight gradient runs beside it, feature maps, predictions), with every reused array
poisoned (NaN) as it is handed out again, so one still in use would change a result; and the
comparison does catch a live array handed out again."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_layers import GRADIENT_SPECS

from engine import SGD, Network, fit
from engine.backend import NUMPY
from engine.layers.base import Workspace
from engine.parallel import Threads

FRESH = replace(NUMPY, keeps_workspaces=False)


@pytest.fixture
def poisoned(monkeypatch):
    """Reused arrays, and new views of reused memory, come back full of NaN (bools True), not
    with last batch's values."""
    real = Workspace.array

    def array(self, name, shape, dtype, like=None):
        before = self._arrays.get(name)
        out = real(self, name, shape, dtype, like)
        if before is not None and np.shares_memory(before[2], out):
            out.fill(np.nan if out.dtype.kind == "f" else True)
        return out

    monkeypatch.setattr(Workspace, "array", array)


def _net(spec, backend):
    rng = np.random.default_rng(5)
    net = Network(spec, seed=3, device=backend, init="he", dtype=np.float64)
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.params.items()})
    return net


def _passes(spec, backend) -> list[np.ndarray]:
    """Every array the engine hands out over a sequence of passes, copied as it comes."""
    rng = np.random.default_rng(7)
    x = rng.random((40, *spec["input"]))
    y = rng.integers(0, spec["classes"], 40)
    net = _net(spec, backend)
    seen: list[np.ndarray] = []
    for rows in (slice(0, 16), slice(16, 32), slice(32, 40)):  # the last batch a different size
        loss, grads = net.loss_and_grads(x[rows], y[rows], rng=backend.rng(1))
        seen += [np.array(loss), *(g.copy() for g in grads.values())]
    for threads, rows in ((Threads(2), slice(0, 40)), (Threads(2), slice(0, 10))):  # split; beside
        rngs = [backend.rng(p) for p in range(threads.count)]
        loss, correct, grads = net.batch_gradients(x[rows], net.labels(y[rows]), rngs, threads)
        seen += [np.array(loss), np.array(correct), *(g.copy() for g in grads.values())]
    seen += net.feature_maps(x[:3]) + net.feature_maps(x[3:6])
    seen.append(net.predict_proba(x, threads=2))
    fit(net, (x, y), epochs=2, batch_size=12, optimizer=SGD(lr=0.05), threads=2)
    seen += list(net.state_dict().values())
    return seen


@pytest.mark.parametrize("name", GRADIENT_SPECS)
def test_reused_workspaces_give_what_fresh_arrays_give(name, poisoned):
    reused, fresh = _passes(GRADIENT_SPECS[name], NUMPY), _passes(GRADIENT_SPECS[name], FRESH)
    assert len(reused) == len(fresh)
    for a, b in zip(reused, fresh, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_comparison_catches_a_live_array_handed_out_again(poisoned):
    """Backward with a cache from before the last forward breaks the workspaces' rule: the
    cache's arrays were handed out again. Reuse then differs from fresh arrays, as it would if
    the rule were broken inside the engine."""
    spec = GRADIENT_SPECS["conv-relu-maxpool-dense-sigmoid"]
    rng = np.random.default_rng(2)
    x_a, x_b = rng.random((2, 6, *spec["input"]))
    y = rng.integers(0, spec["classes"], 6)

    def stale_backward(backend):
        net = _net(spec, backend)
        probs, caches = net.forward(x_a)
        net.forward(x_b)
        return net.backward(probs, net.labels(y), caches)

    reused, fresh = stale_backward(NUMPY), stale_backward(FRESH)
    assert any(not np.array_equal(reused[k], fresh[k]) for k in fresh)


def test_a_smaller_batch_reuses_the_larger_batchs_memory():
    """An epoch's last, shorter batch and the inference passes after training take views of the
    memory the full batches' workspaces hold, so they add nothing to the process's peak."""
    spec = GRADIENT_SPECS["conv-relu-maxpool-dense-sigmoid"]
    rng = np.random.default_rng(3)
    x, y = rng.random((16, *spec["input"])), rng.integers(0, spec["classes"], 16)
    net = _net(spec, NUMPY)
    net.loss_and_grads(x, y)
    held = [a for layer in net.layers for a in layer.workspace_arrays()]
    net.loss_and_grads(x[:7], y[:7])
    net.forward(x[:5])
    now = [a for layer in net.layers for a in layer.workspace_arrays()]
    assert len(now) == len(held)
    assert all(any(np.shares_memory(a, b) for b in held) for a in now)


def test_an_array_asked_for_again_is_handed_back_without_a_look_at_the_array_module():
    looked_up = []

    class Recording:
        def __getattr__(self, name):
            looked_up.append(name)
            return getattr(np, name)

    space = Workspace(replace(NUMPY, xp=Recording()))
    first = space.array("x", (3, 4), np.float32)
    looked_up.clear()
    assert space.array("x", (3, 4), np.dtype(np.float32)) is first
    assert space.array("x", (3, 4), np.float32) is first
    assert looked_up == []  # a hit, every call but a batch's first, holds the GIL: nothing else
    wider = space.array("x", (3, 4), np.float64)
    assert wider is not first and wider.dtype == np.float64
    assert space.array("x", (4, 3), np.float64).shape == (4, 3)
    laid = space.array("x", (4, 3), np.float64, like=np.empty((3, 4)).T)
    assert laid.shape == (4, 3) and laid.strides == np.empty((3, 4)).T.strides
