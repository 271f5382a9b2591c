"""The training worker: the one object that touches the network while it trains.

It lives in its own QThread and trains there (`Run.train`, which calls `engine.fit`). The GUI
thread only ever sees host copies it sends through signals, throttled to what the eye can follow
(loss points 5 times a second, filters and feature maps twice a second): whatever the GUI thread
runs in Python holds the GIL that training needs between NumPy calls. tests/benchmarks/README.md
has what this costs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal, Slot

from engine import BatchInfo, Callback, Dataset, EpochInfo, History, Network, TrainingControl, evaluation
from gui import kernel_warmup
from gui.session import Run
from gui.snapshot import take_snapshot

LOSS_INTERVAL_S = 0.2
SNAPSHOT_INTERVAL_S = 0.5


@dataclass(frozen=True)
class LossUpdate:
    """Batch losses since the last update, at fractional epochs, and the newest batch's info."""

    x: list[float]
    loss: list[float]
    info: BatchInfo


class TrainingWorker(QObject):
    """Trains on its thread and reports; `run` always ends with `finished`, even after an error."""

    warming = Signal()  # the host's compiled kernels are being made ready before the first batch
    lossUpdated = Signal(object)  # LossUpdate
    epochEnded = Signal(object)  # EpochInfo
    snapshotReady = Signal(object)  # Snapshot
    predictionsReady = Signal(object)  # np.ndarray of predicted test labels
    failed = Signal(object)  # the exception that ended the run
    finished = Signal(object)  # History, or None after an error

    def __init__(self, run: Run, sample_index: int = 0, misclassified: bool = False):
        super().__init__()
        self.training_run = run
        self.net = run.net
        self.dataset = run.dataset
        self.config = run.config
        self.optimizer = run.optimizer
        #: Pause, resume, stop and a new learning rate, asked for from the GUI thread.
        self.control = TrainingControl()
        self.optimizer = run.optimizer
        #: Which input the feature maps show: test image `sample_index`, or the user's own image
        #: when there is one; the GUI thread sets them at any time.
        self.sample_index = sample_index
        self.own_image: np.ndarray | None = None
        #: Whether the misclassified list is shown, so every epoch's end sends fresh predictions;
        #: the GUI thread sets it at any time.
        self.misclassified = misclassified
        self._predictions_wanted = threading.Event()

    def request_predictions(self) -> None:
        """Ask for the test set's predicted labels at the next batch boundary (or the run's end)."""
        self._predictions_wanted.set()

    @Slot()
    def run(self) -> None:
        history: History | None = None
        try:
            if kernel_warmup.needed(self.training_run):
                self.warming.emit()
                kernel_warmup.warm_up(self.training_run)
            history = self.training_run.train([_Reporter(self)], self.control)
            if history.stopped:  # the views show the weights the run stopped with, not the last epoch's
                self.send_snapshot()
                self.send_predictions_if_wanted(self.misclassified)
            else:
                self.send_predictions_if_wanted()
        except Exception as exc:  # any failure ends the run and is reported, never the process
            self.failed.emit(exc)
        finally:
            self.finished.emit(history)

    def send_snapshot(self) -> None:
        snapshot = take_snapshot(self.net, self.dataset.test.x, self.sample_index, self.own_image)
        self.snapshotReady.emit(snapshot)

    def send_predictions_if_wanted(self, always: bool = False, predicted: np.ndarray | None = None) -> None:
        """Predicting runs here, never on the GUI thread: it takes a few hundred ms on the CPU.
        `predicted`, the test set's labels from the epoch's validation pass, spares a second one."""
        if self._predictions_wanted.is_set() or always:
            self._predictions_wanted.clear()
            if predicted is None:
                predicted = self.net.predict(self.dataset.test.x, threads=self.config.threads)
            self.predictionsReady.emit(predicted)


class EvaluationSignals(QObject):
    finished = Signal(object)  # engine.evaluation.Evaluation, its arrays on the host
    failed = Signal(object)  # the exception that stopped the evaluation


class EvaluationJob(QRunnable):
    """Evaluate on a pool thread: one pass of `net` over the test split, its figures sent back
    through `signals` as host arrays. `net` is a copy no other thread uses
    (:meth:`gui.session.Session.evaluation_input`), so the window goes on meanwhile."""

    def __init__(self, net: Network, dataset: Dataset, threads: int | None = None):
        super().__init__()
        self.net, self.dataset, self.threads = net, dataset, threads
        self.signals = EvaluationSignals()

    def run(self) -> None:
        try:
            result = evaluation.evaluate(self.net, self.dataset, threads=self.threads)
        except Exception as exc:  # reported by the window; the pool thread must not die silently
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(result)


class _Reporter(Callback):
    """Collects every batch's loss and forwards it in throttled bundles."""

    def __init__(self, worker: TrainingWorker):
        self.worker = worker
        self.x: list[float] = []
        self.loss: list[float] = []
        self.latest: BatchInfo | None = None
        self.last_loss = self.last_snapshot = time.perf_counter()

    def flush(self) -> None:
        if self.latest is not None and self.x:
            self.worker.lossUpdated.emit(LossUpdate(self.x, self.loss, self.latest))
            self.x, self.loss = [], []
        self.last_loss = time.perf_counter()

    def on_batch_end(self, info: BatchInfo) -> None:
        self.x.append(info.epoch - 1 + info.batch / info.batches)
        self.loss.append(info.loss)
        self.latest = info
        now = time.perf_counter()
        if now - self.last_loss >= LOSS_INTERVAL_S or self.worker.control.paused:
            self.flush()
        if now - self.last_snapshot >= SNAPSHOT_INTERVAL_S:
            self.worker.send_snapshot()
            self.last_snapshot = time.perf_counter()
        self.worker.send_predictions_if_wanted()

    def on_epoch_end(self, info: EpochInfo) -> None:
        self.flush()
        self.worker.epochEnded.emit(info)
        self.worker.send_snapshot()
        # The run validates on the test set, so its predictions are the misclassified list's.
        predicted = None if info.evaluation is None else info.evaluation.predicted
        self.worker.send_predictions_if_wanted(self.worker.misclassified, predicted)

    def on_train_end(self, history: History) -> None:
        self.flush()
