"""The trainer alone: one run at a time on its own thread, pause, resume, stop and a new rate
reach the run's control, and the thread is gone once the run has finished or been shut down."""

import numpy as np
import pytest

from engine import Network
from engine.recipe import Recipe
from gui.session import Run
from gui.timelapse import TimeLapse
from gui.trainer import Trainer
from gui.worker import TrainingWorker


def _worker(data, epochs=1):
    spec = {"input": list(data.input_shape), "classes": data.classes, "layers": [{"type": "softmax"}]}
    config = Recipe(epochs=epochs, batch_size=32, threads=1)
    net = Network(spec, device="cpu")
    return TrainingWorker(Run(net, data, config, config.make_optimizer(), TimeLapse(data.test.x, 0)))


def test_a_run_finishes_on_its_own_thread_and_releases_it(qtbot, small_data):
    trainer = Trainer()
    worker = _worker(small_data)
    before = worker.net.state_dict()["layers.0.weight"]
    with qtbot.waitSignal(trainer.finished, timeout=30_000) as finished:
        trainer.start(worker)
        assert trainer.running and trainer.worker is worker
        with pytest.raises(RuntimeError, match="already in progress"):
            trainer.start(_worker(small_data))
    assert finished.args[0] is not None and not finished.args[0].stopped
    assert not trainer.running and trainer.worker is None
    assert not np.array_equal(worker.net.state_dict()["layers.0.weight"], before)


def test_pause_resume_stop_and_rate_reach_the_runs_control(qtbot, small_data):
    trainer = Trainer()
    worker = _worker(small_data, epochs=10_000)
    trainer.start(worker)
    trainer.pause()
    assert trainer.paused and worker.control.paused
    trainer.set_lr(0.5)
    trainer.resume()
    assert not trainer.paused
    with qtbot.waitSignal(trainer.finished, timeout=30_000) as finished:
        trainer.stop()
    assert finished.args[0].stopped == "stopped" and worker.optimizer.lr == 0.5


def test_shutdown_ends_a_run_and_its_thread(qtbot, small_data):
    trainer = Trainer()
    trainer.start(_worker(small_data, epochs=10_000))
    assert trainer.shutdown(10_000)
    assert not trainer.running
