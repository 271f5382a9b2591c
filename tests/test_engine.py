"""The network and its training loop: backends, reproducibility, control, divergence."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from strict_backend import STRICT, HostDeviceMixup

from engine import (
    SGD,
    Adam,
    Callback,
    DataError,
    DeviceError,
    Network,
    Schedule,
    TrainingControl,
    TrainingDiverged,
    fit,
    get_backend,
)
from engine import backend as backend_module
from engine.data import Split
from engine.optim import LEARNING_RATES, OPTIMIZERS
from engine.recipe import DEFAULT_RECIPE, Recipe
from engine.training import check_fits, fit_problem

SMALL = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {"type": "conv", "filters": 4, "kernel": 5, "padding": "same"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "activation": "tanh"},
        {"type": "pool", "mode": "mean", "size": 3, "stride": 2},
        {"type": "dense", "units": 16, "dropout": 0.3},
        {"type": "softmax", "dropout": 0.1},
    ],
}


@pytest.fixture(scope="module")
def small_train(mnist):
    return mnist.train.x[:300], mnist.train.y[:300]


class Recorder(Callback):
    def __init__(self, on_batch=None):
        self.batches, self.epochs, self.ended = [], [], None
        self.on_batch = on_batch

    def on_batch_end(self, info):
        self.batches.append(info)
        if self.on_batch:
            self.on_batch(info)

    def on_epoch_end(self, info):
        self.epochs.append(info)

    def on_train_end(self, history):
        self.ended = history


def test_strict_backend_refuses_what_cupy_refuses():
    a = STRICT.to_device(np.ones(3, dtype=np.float32))
    with pytest.raises(HostDeviceMixup):
        np.asarray(a)
    with pytest.raises(HostDeviceMixup):
        a + np.ones(3)
    with pytest.raises(HostDeviceMixup):
        np.concatenate([a, a])
    assert STRICT.to_host(a * 2 + 1).tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("optimizer", [SGD(lr=0.05, momentum=0.9, l2=1e-3), Adam(lr=1e-3, l2=1e-4)])
def test_training_on_a_strict_device_matches_numpy_exactly(small_train, optimizer):
    """The whole training step, evaluation and feature maps stay on the device."""
    runs = []
    for device in ("cpu", STRICT):
        net = Network(SMALL, seed=4, device=device)
        opt = type(optimizer)(**{k: v for k, v in optimizer.config().items() if k != "name"})
        history = fit(net, small_train, epochs=2, batch_size=64, optimizer=opt, validation=small_train)
        maps = net.feature_maps(small_train[0][:2])
        runs.append((history, net.state_dict(), maps, net.predict_proba(small_train[0][:20])))
    (ha, pa, ma, qa), (hb, pb, mb, qb) = runs
    assert ha.batch_loss == hb.batch_loss
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert all(np.array_equal(x, y) for x, y in zip(ma, mb, strict=True))
    assert np.array_equal(qa, qb)


def test_a_seeded_run_is_bit_for_bit_reproducible(small_train, device):
    states = []
    for _ in range(2):
        net = Network(SMALL, seed=11, device=device)
        fit(net, small_train, epochs=2, batch_size=50, optimizer=SGD(lr=0.05, momentum=0.9))
        states.append(net.state_dict())
    assert all(np.array_equal(states[0][k], states[1][k]) for k in states[0])
    other = Network(SMALL, seed=12, device=device).state_dict()
    assert not np.array_equal(states[0]["layers.0.weight"], other["layers.0.weight"])


def test_training_lowers_the_loss_and_reports_progress(mnist, device):
    net = Network(seed=0, device=device, init="he")
    rec = Recorder()
    history = fit(
        net,
        (mnist.train.x[:1000], mnist.train.y[:1000]),
        epochs=2,
        batch_size=64,
        optimizer=Adam(lr=2e-3),
        validation=mnist,
        callbacks=[rec],
    )
    assert len(history.batch_loss) == 2 * 16  # the last partial batch of 1000 % 64 is kept
    assert rec.batches[-1].batch == 16 and rec.batches[-1].batches == 16
    assert all(b.images_per_s > 0 and b.eta_s >= 0 for b in rec.batches)
    assert rec.batches[-1].eta_s == 0
    assert [e.epoch for e in rec.epochs] == [1, 2]
    assert rec.epochs[-1].val_acc > 0.7 and rec.epochs[-1].train_loss < rec.epochs[0].train_loss
    assert rec.ended is history and history.stopped is None
    assert net.metadata["epochs"] == 2 and net.metadata["metrics"]["val_acc"] == rec.epochs[-1].val_acc
    assert net.evaluate(mnist)[1] == rec.epochs[-1].val_acc
    np.testing.assert_array_equal(rec.epochs[-1].val_predicted, net.predict(mnist.test.x))
    assert history.epochs[-1].val_predicted is None
    assert history.epochs[-1].val_acc == rec.epochs[-1].val_acc


def test_non_finite_loss_stops_and_keeps_the_last_good_weights(small_train, device):
    x, y = small_train[0].copy(), small_train[1]
    x[70] = np.nan
    net = Network(SMALL, seed=0, device=device)
    snapshots = [net.state_dict()]
    rec = Recorder(on_batch=lambda info: snapshots.append(net.state_dict()))
    with pytest.raises(TrainingDiverged, match="the weights of the last good step were kept"):
        fit(net, (x, y), epochs=1, batch_size=64, optimizer=SGD(lr=0.05), callbacks=[rec])
    assert rec.ended is not None and len(rec.batches) < 5
    final = net.state_dict()
    assert all(np.array_equal(final[k], snapshots[-1][k]) for k in final)
    assert all(np.isfinite(v).all() for v in final.values())


def test_pause_resume_stop_and_a_new_learning_rate_from_another_thread(small_train, device):
    net = Network(SMALL, seed=0, device=device)
    control = TrainingControl()
    paused = threading.Event()

    def steer(info):
        if info.step == 2:
            control.set_lr(0.001)
        if info.step == 3:
            control.pause()
            paused.set()
        if info.step == 5:
            control.stop()

    rec = Recorder(on_batch=steer)
    worker = threading.Thread(
        target=lambda: fit(
            net, small_train, epochs=5, batch_size=32, optimizer=SGD(lr=0.1), control=control, callbacks=[rec]
        )
    )
    worker.start()
    assert paused.wait(10)
    worker.join(0.3)
    assert worker.is_alive() and control.paused and len(rec.batches) == 3
    control.resume()
    worker.join(10)
    assert not worker.is_alive()
    assert [b.lr for b in rec.batches] == [0.1, 0.1, 0.001, 0.001, 0.001]
    assert rec.ended.stopped == "stopped"


def test_stop_while_paused_ends_the_run():
    control = TrainingControl()
    control.pause()
    control.stop()
    assert control.checkpoint(SGD()) >= 0 and control.stop_requested and not control.paused


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("constant", [1.0, 1.0, 1.0, 1.0]),
        ("step", [1.0, 1.0, 0.5, 0.5]),
        ("cosine", [1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4))]),
    ],
)
def test_learning_rate_schedules(kind, expected):
    schedule = Schedule(kind, step_epochs=2, gamma=0.5)
    assert [schedule.lr(1.0, e, 4) for e in range(4)] == pytest.approx(expected)


def test_bad_training_data_is_refused_clearly(small_train, device):
    net = Network(SMALL, device=device)
    x, y = small_train
    with pytest.raises(ValueError, match="training set has 3×28×28 images but the network expects 1×28×28"):
        fit(net, (np.zeros((4, 3, 28, 28), np.float32), y[:4]))
    with pytest.raises(ValueError, match="training set has 13 classes but the network has 10"):
        fit(net, (x[:3], np.array([0, 12, 1])))
    with pytest.raises(ValueError, match="validation set has the label -1"):
        fit(net, (x[:3], y[:3]), validation=(x[:2], np.array([0, -1])))
    with pytest.raises(ValueError, match="expects inputs of shape 1×28×28"):
        net.predict_proba(np.zeros((1, 1, 5, 5), np.float32))


def test_one_rule_says_whether_a_data_set_fits(mnist, device):
    """Fewer classes than outputs can train (the CLI, the loop); the window wants them equal."""
    train, test = (Split(x[y < 4], y[y < 4]) for x, y in (mnist.train, mnist.test))
    four = replace(mnist, train=train, test=test, class_names=mnist.class_names[:4])
    net = Network({**SMALL, "classes": 4}, device=device)
    assert fit_problem(net, four) is None and fit_problem(net, four, exact_classes=True) is None
    assert fit_problem(net, mnist) == "mnist-5k has 10 classes but the network has 4"
    wide = Network({**SMALL, "classes": 12}, device=device)
    assert fit_problem(wide, mnist) is None
    assert fit_problem(wide, mnist, exact_classes=True) == "mnist-5k has 10 classes but the network has 12"
    rgb = Network({**SMALL, "input": [3, 28, 28]}, device=device)
    assert fit_problem(rgb, mnist) == "mnist-5k has 1×28×28 images but the network expects 3×28×28"
    with pytest.raises(DataError, match="^mnist-5k has 10 classes but the network has 4$"):
        check_fits(net, mnist)


def test_recipe_gives_each_optimizer_its_rate_and_continues_one_of_its_kind():
    assert Recipe().lr == 0.03 and Recipe(optimizer="adam").lr == 1e-3
    adam = Recipe(optimizer="adam", l2=0.0).make_optimizer()
    assert isinstance(adam, Adam) and adam.lr == 1e-3
    adam.state["w.m"] = np.ones(2)
    again = Recipe(optimizer="adam", lr=0.01, l2=1e-4).make_optimizer(adam)
    assert again is adam and (adam.lr, adam.l2) == (0.01, 1e-4) and "w.m" in adam.state
    sgd = Recipe(momentum=0.5).make_optimizer(adam)
    assert isinstance(sgd, SGD) and (sgd.lr, sgd.momentum) == (0.03, 0.5)
    assert Recipe(momentum=0.7).make_optimizer(sgd) is sgd and sgd.momentum == 0.7
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        Recipe(optimizer="rmsprop")


def test_one_set_of_optimizer_defaults(small_train, monkeypatch):
    """The recipe, a bare optimizer and a `fit` given none train with the same settings."""
    for kind in ("sgd", "adam"):
        assert Recipe(optimizer=kind).make_optimizer().config() == OPTIMIZERS[kind]().config()
    assert LEARNING_RATES == {"sgd": Recipe().lr, "adam": Recipe(optimizer="adam").lr}
    used = []
    monkeypatch.setattr(SGD, "step", lambda self, *args: used.append(self.config()))
    fit(Network(SMALL, device="cpu"), (small_train[0][:8], small_train[1][:8]), batch_size=8)
    assert used == [DEFAULT_RECIPE.make_optimizer().config()]


def test_gpu_request_without_one_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backend_module, "gpu_unavailable_reason", lambda: "CuPy is not installed")
    with pytest.raises(DeviceError, match="GPU requested but unavailable: CuPy is not installed"):
        get_backend("gpu")
    assert get_backend("auto").name == "cpu"
    monkeypatch.setenv("CONVSCOPE_DEVICE", "cpu")
    assert Network(SMALL).backend.name == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        get_backend("tpu")


def test_parameters_are_live_and_follow_pytorch_layouts(device):
    net = Network(device=device)
    assert net.params["layers.0.weight"].shape == (20, 1, 5, 5)
    assert net.params["layers.4.weight"].shape == (100, 640)
    assert not net.params["layers.5.weight"].any()  # network3: softmax starts at zero
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    before = net.predict_proba(x)
    net.params["layers.5.bias"][3] += 5.0
    assert net.predict_proba(x)[:, 3].min() > before[:, 3].max()


def test_take_weights_keeps_layers_whose_shapes_survive_an_edit(device):
    old = Network(SMALL, seed=1, device=device)
    old.metadata["epochs"] = 3
    spec = {**SMALL, "layers": [dict(layer) for layer in SMALL["layers"]]}
    spec["layers"].insert(2, {"type": "conv", "filters": 4, "kernel": 1})  # new layer 2
    spec["layers"][5]["units"] = 12  # old dense layer 4, now 5, changes shape
    new = Network(spec, seed=2, device=device)
    fresh = new.state_dict()
    reset = new.take_weights(old, {0: 0, 1: 1, 3: 2, 4: 3, 5: 4, 6: 5})
    assert reset == [2, 5, 6]  # the inserted conv, the resized dense, the softmax fed by it
    before, after = old.state_dict(), new.state_dict()
    assert np.array_equal(after["layers.0.weight"], before["layers.0.weight"])
    assert np.array_equal(after["layers.3.weight"], before["layers.2.weight"])
    assert np.array_equal(after["layers.5.weight"], fresh["layers.5.weight"])
    assert new.metadata["epochs"] == 3
