"""The host's compiled kernels made ready before a launch's first run (gui.kernel_warmup): the
warm-up trains a copy, so the run's network, optimizer and results are those it would have had."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from test_session import RECIPE, write_npz

from engine import jit, load_dataset
from gui import kernel_warmup
from gui.session import Session


def test_the_warm_up_leaves_the_run_as_it_would_have_been(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_warmup, "_ready", set())
    data = write_npz(tmp_path / "start.npz", 3)
    warmed, cold = (Session(load_dataset(data), RECIPE, "cpu") for _ in range(2))
    run, plain = warmed.start_run(RECIPE), cold.start_run(RECIPE)
    before = {name: value.copy() for name, value in run.net.state_dict().items()}
    assert kernel_warmup.needed(run) == jit.enabled() == run.net.backend.compiled
    kernel_warmup.warm_up(run)
    assert not kernel_warmup.needed(run)  # once a launch for this network and recipe
    for name, value in run.net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert run.net.metadata.get("epochs", 0) == 0
    history, expected = run.train(), plain.train()
    assert [e.train_loss for e in history.epochs] == [e.train_loss for e in expected.epochs]
    for name, value in run.net.state_dict().items():
        np.testing.assert_array_equal(value, plain.net.state_dict()[name])  # bit for bit


def test_another_batch_size_or_network_is_made_ready_again(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_warmup, "_ready", set())
    session = Session(load_dataset(write_npz(tmp_path / "start.npz", 3)), RECIPE, "cpu")
    run = session.start_run(RECIPE)
    kernel_warmup.warm_up(run)
    session.finish_run(None)
    assert kernel_warmup.needed(session.start_run(replace(RECIPE, batch_size=32))) == jit.enabled()
