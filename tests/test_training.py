"""The training loop: reproducibility, progress, divergence, pause/resume/stop from another
thread, schedules, and the one rule for data that fits."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from small_network import SMALL, Recorder

from engine import (
    SGD,
    Adam,
    DataError,
    Network,
    Schedule,
    TrainingControl,
    TrainingDiverged,
    fit,
)
from engine.data import Split
from engine.training import check_fits, fit_problem


def test_a_seeded_run_is_bit_for_bit_reproducible(small_train, device, host_kernels):
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
    result = rec.epochs[-1].evaluation
    np.testing.assert_array_equal(result.probabilities, net.predict_proba(mnist.test.x))
    np.testing.assert_array_equal(result.y, mnist.test.y)
    assert (result.loss, result.accuracy) == (rec.epochs[-1].val_loss, rec.epochs[-1].val_acc)
    assert history.epochs[-1].evaluation is None
    assert history.epochs[-1].val_acc == rec.epochs[-1].val_acc


def test_non_finite_loss_stops_and_keeps_the_last_good_weights(small_train, device, host_kernels):
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
            net, small_train, epochs=5, batch_size=32, optimizer=SGD(lr=0.1), control=control,
            callbacks=[rec], read_every=1,  # steered batch by batch, on the GPU too
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
