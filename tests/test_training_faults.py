"""Training faults: an update that overflows leaves the last state checked finite, optimizer
settings outside their range are refused everywhere by one rule, diverged weights are never
written without asking, and stop wins over pause whatever the order and timing."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import SGD, Adam, Callback, Network, SettingError, TrainingControl, TrainingDiverged, fit, save
from engine.backend import Backend
from engine.last_good import LastGood
from engine.recipe import Recipe
from engine.weights import WeightFileError, load_with_optimizer

TINY = {
    "input": [1, 6, 6],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "relu"},
        {"type": "dense", "units": 8},
        {"type": "softmax"},
    ],
}
#: Long enough to a generous timeout that only a hang reaches.
HANG_S = 60


def _data(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 6, 6), dtype=np.float32), np.arange(n) % 3


class Counter(Callback):
    """Counts the batches that ended and keeps the learning rate each one used."""

    def __init__(self) -> None:
        self.batches = 0
        self.rates: list[float] = []

    def on_batch_end(self, info) -> None:
        self.batches += 1
        self.rates.append(info.lr)


def _state(net: Network, optimizer) -> tuple[dict, dict, int]:
    return net.state_dict(), optimizer.state_dict(net.backend), optimizer.steps


def _assert_same(a: tuple[dict, dict, int], b: tuple[dict, dict, int]) -> None:
    for x, y in zip(a[:2], b[:2], strict=True):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)
    assert a[2] == b[2]


def _in_thread(fn):
    """Run `fn` on a thread; returns the thread and a dict that receives its result or error."""
    out: dict = {}

    def run():
        try:
            out["result"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# -- an update that overflows ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda: SGD(lr=0.1, momentum=0.9), lambda: Adam(lr=0.01)], ids=["sgd", "adam"]
)
@pytest.mark.parametrize("bad_lr", [1e30, math.inf, math.nan])
def test_an_overflowing_update_leaves_the_last_state_checked_finite(device, make, bad_lr):
    """The rate is set behind the rules' back (as a bug would), so the update itself overflows
    though every gradient was finite; the run stops with the weights, the optimizer's state and
    its step count of the last batch that ended, or those it started from."""
    net, optimizer, data = Network(TINY, seed=0, device=device), make(), _data()
    fit(net, data, epochs=1, batch_size=8, optimizer=optimizer)  # moments and velocities to keep
    kept = [_state(net, optimizer)]

    class Keep(Callback):
        def on_batch_end(self, info):
            kept.append(_state(net, optimizer))

    optimizer.lr = bad_lr
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged) as caught:
        fit(net, data, epochs=3, batch_size=8, optimizer=optimizer, schedule="constant", callbacks=[Keep()])
    assert "the weights of the last good step were kept" in str(caught.value)
    _assert_same(_state(net, optimizer), kept[-1])
    weights, moments, _ = kept[-1]
    assert all(np.isfinite(v).all() for v in [*weights.values(), *moments.values()])


def test_the_health_check_adds_no_host_synchronisation(monkeypatch, device):
    """One host copy per read (here every batch), as before the check covered the weights: the
    GPU path is not made to wait once more per step."""
    copies = {"n": 0}
    to_host = Backend.to_host

    def counted(self, a):
        copies["n"] += 1
        return to_host(self, a)

    monkeypatch.setattr(Backend, "to_host", counted)
    net = Network(TINY, seed=0, device=device)
    fit(net, _data(), epochs=2, batch_size=8, optimizer=SGD(lr=0.1, momentum=0.9), read_every=1)
    assert copies["n"] == 2 * 4


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_the_health_check_finds_one_non_finite_value_anywhere(device, bad):
    """Every parameter, at every place a vectorised read could skip (the first, the last and the
    places of a SIMD tail): the host's dot products with zeros, like the device's sums, let NaN and
    inf through. Adam's moments are read; SGD's velocity is not, so the test checks that a
    non-finite velocity leaves a non-finite parameter after one step."""
    net, adam = Network(TINY, seed=0, device=device), Adam(lr=0.01)
    fit(net, _data(), epochs=1, batch_size=8, optimizer=adam)
    last_good = LastGood(net, adam)
    assert math.isfinite(float(net.backend.to_host(last_good.health())))
    arrays = {**net.params, **adam.state}
    assert len(arrays) == 3 * len(net.params)
    for name, array in arrays.items():
        flat = array.reshape(-1)
        for i in sorted({0, 1, flat.size - 1, *range(max(0, flat.size - 33), flat.size)}):
            kept = float(net.backend.to_host(flat[i : i + 1])[0])
            flat[i] = bad
            health = float(net.backend.to_host(last_good.health()))
            flat[i] = kept
            assert not math.isfinite(health), (name, i)
    assert math.isfinite(float(net.backend.to_host(last_good.health())))

    sgd = SGD(lr=0.1, momentum=0.9)
    fit(net, _data(), epochs=1, batch_size=8, optimizer=sgd)
    last_good = LastGood(net, sgd)
    assert sgd.slots_reach_params and math.isfinite(float(net.backend.to_host(last_good.health())))
    for name in list(sgd.state):  # restore() replaces the state's arrays
        before = _state(net, sgd)
        sgd.state[name].reshape(-1)[-1] = bad
        grads = {k: v * 0 for k, v in net.params.items()}
        sgd.step(net.params, grads)
        assert not math.isfinite(float(net.backend.to_host(last_good.health()))), name
        last_good.restore()
        _assert_same(_state(net, sgd), before)


# -- one rule for the optimizer's settings ------------------------------------------------------


BAD_SETTINGS = [
    ("lr", math.nan, "lr must be a finite number, got nan"),
    ("lr", math.inf, "lr must be a finite number, got inf"),
    ("lr", -0.1, "lr must be > 0, got -0.1"),
    ("lr", 0.0, "lr must be > 0, got 0"),
    ("lr", "0.1", "lr must be a number, got '0.1'"),
    ("momentum", 1.0, "momentum must be ≥ 0 and < 1, got 1"),
    ("momentum", -0.5, "momentum must be ≥ 0 and < 1, got -0.5"),
    ("momentum", math.nan, "momentum must be a finite number, got nan"),
    ("l2", -1e-4, "l2 must be ≥ 0, got -0.0001"),
    ("l2", math.inf, "l2 must be a finite number, got inf"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_SETTINGS)
def test_the_optimizers_and_the_recipe_refuse_a_setting_out_of_range(name, value, message):
    for make in (SGD, Recipe):
        with pytest.raises(SettingError, match=f"^{message}$"):
            make(**{name: value})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.1, 0.0, None, True])
def test_set_lr_refuses_in_the_callers_thread_and_keeps_the_pending_rate(value):
    control = TrainingControl()
    control.set_lr(0.05)
    with pytest.raises(SettingError, match="^lr must be"):
        control.set_lr(value)
    optimizer = SGD(lr=0.1)
    control.checkpoint(optimizer)
    assert optimizer.lr == 0.05


# -- diverged weights are not written -----------------------------------------------------------


def test_non_finite_weights_or_state_are_never_written_unless_asked(tmp_path, device):
    path = tmp_path / "m.safetensors"
    net, optimizer = Network(TINY, device=device), SGD(lr=0.1, momentum=0.9)
    fit(net, _data(), epochs=1, batch_size=8, optimizer=optimizer)
    save(net, path, optimizer)
    before = path.read_bytes()
    net.params["layers.0.weight"][0, 0, 0, 0] = np.nan
    optimizer.state["layers.2.bias.velocity"][1] = np.inf
    with pytest.raises(
        WeightFileError,
        match=r"m\.safetensors: not written: layers\.0\.weight, optimizer\.layers\.2\.bias\.velocity hold",
    ):
        save(net, path, optimizer)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    save(net, path, optimizer, allow_non_finite=True)
    written = safetensors.numpy.load_file(path)
    assert np.isnan(written["layers.0.weight"][0, 0, 0, 0])
    assert np.isinf(written["optimizer.layers.2.bias.velocity"][1])
    with pytest.raises(
        WeightFileError,
        match=r"m\.safetensors: layers\.0\.weight, optimizer\.layers\.2\.bias\.velocity hold NaN or inf",
    ):
        load_with_optimizer(path, device)
    kept, kept_optimizer = load_with_optimizer(path, device, allow_non_finite=True)
    assert np.isnan(kept.state_dict()["layers.0.weight"][0, 0, 0, 0]) and kept_optimizer is not None


# -- stop wins over pause -----------------------------------------------------------------------


def test_a_pause_after_stop_does_not_hold_the_run(device):
    net, control, counter = Network(TINY, device=device), TrainingControl(), Counter()

    class StopThenPause(Callback):
        def on_batch_end(self, info):
            if info.step == 3:
                control.stop()
                control.pause()

    thread, out = _in_thread(
        lambda: fit(
            net, _data(), epochs=10**6, batch_size=8, control=control, callbacks=[counter, StopThenPause()],
            read_every=1,
        )
    )
    thread.join(HANG_S)
    assert not thread.is_alive(), "the pause after stop held the run"
    assert out["result"].stopped == "stopped" and counter.batches == 3
    assert control.stop_requested and not control.paused


def _op(name: str, value: float | None = None):
    return (name, value)


OPS = st.one_of(
    st.sampled_from([_op("pause"), _op("resume"), _op("stop"), _op("paused?")]),
    st.builds(
        lambda v: _op("set_lr", v),
        st.one_of(
            st.floats(1e-4, 1.0),
            st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0]),
        ),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plans=st.lists(st.lists(st.tuples(OPS, st.integers(0, 3)), max_size=10), min_size=1, max_size=4),
    ending=st.sampled_from([("stop",), ("pause", "stop"), ("stop", "pause"), ("stop", "pause", "resume")]),
)
def test_random_interleavings_of_control_calls_from_several_threads(device, plans, ending):
    """Several threads pause, resume, stop and set rates in random order with random spacing while
    a run trains; then one more sequence that holds a stop. The run always ends, at most one
    batch (the one in flight) after the first stop returned, and only ever uses a valid rate."""
    net, control, counter = Network(TINY, device=device), TrainingControl(), Counter()
    optimizer = SGD(lr=0.5)
    accepted = {0.5}
    stops: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(plans) + 1)

    def call(name, value):
        if name == "set_lr":
            try:
                control.set_lr(value)
            except SettingError:
                assert not (math.isfinite(value) and value > 0)
                return
            with lock:
                accepted.add(value)
        elif name == "paused?":
            assert not (control.paused and control.stop_requested)
        else:
            getattr(control, name)()
            if name == "stop":
                with lock:
                    stops.append(counter.batches)

    def steer(plan):
        start.wait(HANG_S)
        for (name, value), spacing in plan:
            for _ in range(spacing):  # a few switches of the GIL between calls
                threading.Event().wait(0)
            call(name, value)

    run, out = _in_thread(
        lambda: fit(
            net,
            _data(16),
            epochs=10**6,
            batch_size=8,
            optimizer=optimizer,
            schedule="constant",
            control=control,
            callbacks=[counter],
            read_every=1,  # each batch heard of as it ends, so a stop is seen within one
        )
    )
    steering = [threading.Thread(target=steer, args=(plan,), daemon=True) for plan in plans]
    try:
        for thread in steering:
            thread.start()
        start.wait(HANG_S)
        for thread in steering:
            thread.join(HANG_S)
        for name in ending:
            call(name, None)
        run.join(HANG_S)
        assert not run.is_alive(), "the run did not end after stop"
    finally:
        control.stop()
        run.join(HANG_S)
    assert "error" not in out, out.get("error")
    assert out["result"].stopped == "stopped"
    assert counter.batches - min(stops) <= 1
    assert set(counter.rates) <= accepted and optimizer.lr in accepted
