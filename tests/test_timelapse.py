"""The time-lapse of a run: which frames are taken, what they hold, the memory bound, and the
sidecar file beside the weights (plain arrays, checked against the network). Qt-free."""

from dataclasses import replace

import numpy as np
import pytest
from test_weights import SPEC  # an 8×8, 3-class network

from engine import Network, WeightFileError, fit
from engine.limits import format_bytes
from gui.timelapse import TimeLapse, caption, sidecar_path

RNG = np.random.default_rng(0)
X = RNG.random((64, 1, 8, 8), dtype=np.float32)
Y = np.arange(64) % 3


def _trained(epochs=2, budget=1 << 30, net=None):
    net = net or Network(SPEC, seed=0)
    timelapse = TimeLapse(X[:10], sample_index=3, budget_bytes=budget)
    history = fit(net, (X, Y), epochs=epochs, batch_size=8, validation=(X[:10], Y[:10]),
                  callbacks=[timelapse], threads=1)
    return net, timelapse, history


def test_frames_before_the_run_in_its_first_epoch_and_at_each_epochs_end():
    net, timelapse, history = _trained()
    assert [f.position for f in timelapse.frames] == [0, 1 / 8, 2 / 8, 4 / 8, 1, 2]
    first, last = timelapse.frames[0], timelapse.frames[-1]
    assert not np.array_equal(first.filters, last.filters)
    np.testing.assert_array_equal(last.filters, net.state_dict()["layers.0.weight"])
    for shown, now in zip(last.maps, net.feature_maps(X[3:4]), strict=True):
        np.testing.assert_array_equal(shown, now[0])
    np.testing.assert_allclose(last.probabilities, net.predict_proba(X[3:4])[0])
    assert np.isnan(first.metrics).all() and np.isnan(timelapse.frames[1].metrics).all()
    epoch = history.epochs[-1]
    scores = [epoch.train_loss, epoch.train_acc, epoch.val_loss, epoch.val_acc]
    np.testing.assert_allclose(last.metrics, scores)
    # a second run on the same network goes on from its end, without a second frame there
    fit(net, (X, Y), epochs=1, batch_size=8, callbacks=[timelapse], threads=1)
    assert [f.position for f in timelapse.frames][-3:] == [1, 2, 3]


def test_the_frames_stay_within_their_memory_budget_keeping_the_first_and_last():
    net, unbounded, _ = _trained(epochs=6)
    frame = unbounded.frames[0].nbytes
    _, bounded, _ = _trained(epochs=6, budget=5 * frame)
    assert bounded.max_frames == 5 and len(bounded.frames) <= 5 < len(unbounded.frames)
    assert bounded.nbytes <= 5 * frame
    assert bounded.frames[0].position == 0 and bounded.frames[-1].position == 6
    positions = [f.position for f in bounded.frames]
    assert positions == sorted(positions)
    size, budget = format_bytes(bounded.nbytes), format_bytes(5 * frame)
    assert bounded.describe() == f"{len(bounded.frames)} snapshots, {size} (at most {budget})"


def test_the_sidecar_file_holds_plain_arrays_and_comes_back_checked(tmp_path):
    net, timelapse, _ = _trained()
    weights = tmp_path / "model.safetensors"
    assert timelapse.save(weights) == tmp_path / "model.timelapse.npz" == sidecar_path(weights)
    with np.load(sidecar_path(weights), allow_pickle=False) as plain:  # nothing pickled in it
        assert plain["positions"].tolist() == [0, 1 / 8, 2 / 8, 4 / 8, 1, 2]
    back = TimeLapse.load(weights, net, X[:10])
    assert back.sample_index == 3 and len(back.frames) == len(timelapse.frames)
    for a, b in zip(back.frames, timelapse.frames, strict=True):
        assert a.position == b.position
        np.testing.assert_array_equal(a.filters, b.filters)
        np.testing.assert_array_equal(a.metrics, b.metrics)
        for m, n in zip(a.maps, b.maps, strict=True):
            np.testing.assert_array_equal(m, n)
    assert TimeLapse.load(tmp_path / "other.safetensors", net, X[:10]) is None


def test_a_sidecar_for_another_network_or_a_damaged_one_is_refused_naming_it(tmp_path):
    net, timelapse, _ = _trained()
    weights = tmp_path / "model.safetensors"
    timelapse.save(weights)
    wider = Network({**SPEC, "layers": [{**SPEC["layers"][0], "filters": 5}, *SPEC["layers"][1:]]})
    with pytest.raises(WeightFileError, match="model.timelapse.npz: .*the network needs"):
        TimeLapse.load(weights, wider, X[:10])
    with pytest.raises(WeightFileError, match="its test image 3 is not in the data set"):
        TimeLapse.load(weights, net, X[:2])
    sidecar_path(weights).write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(WeightFileError, match="model.timelapse.npz"):
        TimeLapse.load(weights, net, X[:10])


def test_a_frames_caption_says_where_in_training_it_was_and_its_scores():
    _, timelapse, history = _trained(epochs=2)
    first, eighth, end = timelapse.frames[0], timelapse.frames[1], timelapse.frames[-1]
    assert caption(first, 2) == "before training (time-lapse)"
    assert caption(eighth, 2) == "12% into epoch 1 of 2 (time-lapse)"
    last = history.epochs[-1]
    assert caption(end, 10) == (
        f"epoch 2 of 10 (time-lapse) · validation accuracy {last.val_acc:.1%}, loss {last.val_loss:.4f}"
    )
    no_validation = replace(end, metrics=np.array([0.25, 0.5, np.nan, np.nan]))
    assert caption(no_validation, 2) == "epoch 2 of 2 (time-lapse) · training accuracy 50.0%, loss 0.2500"
