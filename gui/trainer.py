"""One training run at a time in a QThread: start, pause, resume, stop, and a clean shutdown.

The GUI thread calls `quit()` before `wait()` itself: a queued `finished -> quit` would never be
delivered while the GUI thread is blocked in `wait()`."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from engine import TrainingControl
from gui.worker import TrainingWorker


class Trainer(QObject):
    """Owns the worker thread and forwards the worker's reports to the GUI thread."""

    warming = Signal()  # the run's compiled kernels are being made ready (gui.kernel_warmup)
    lossUpdated = Signal(object)
    epochEnded = Signal(object)
    snapshotReady = Signal(object)
    predictionsReady = Signal(object)
    failed = Signal(object)  # the exception that ended the run
    finished = Signal(object)  # History, or None after an error

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control.paused

    @property
    def _control(self) -> TrainingControl | None:
        return None if self._worker is None else self._worker.control

    @property
    def worker(self) -> TrainingWorker | None:
        return self._worker

    def start(self, worker: TrainingWorker) -> None:
        """Run `worker` on a new thread; its network and optimizer are its own until `finished`."""
        if self.running:
            raise RuntimeError("a training run is already in progress")
        self._thread = QThread(self)
        self._thread.setObjectName("trainingThread")
        self._worker = worker
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        for name in ("warming", "lossUpdated", "epochEnded", "snapshotReady", "predictionsReady", "failed"):
            getattr(self._worker, name).connect(getattr(self, name))
        self._worker.finished.connect(self._on_finished)
        self._thread.start()

    def pause(self) -> None:
        if self._control is not None:
            self._control.pause()

    def resume(self) -> None:
        if self._control is not None:
            self._control.resume()

    def stop(self) -> None:
        if self._control is not None:
            self._control.stop()

    def set_lr(self, lr: float) -> None:
        """Takes effect at the next batch."""
        if self._control is not None:
            self._control.set_lr(lr)

    def set_sample(self, index: int, own: np.ndarray | None = None) -> None:
        """The input the run's snapshots show from the next one: test image `index`, or `own`."""
        if self._worker is not None:
            self._worker.own_image = own
            self._worker.sample_index = index

    def track_misclassified(self, on: bool) -> None:
        """Send predictions at every epoch's end while `on`, and one set soon after turning it on."""
        if self._worker is not None:
            self._worker.misclassified = on
            if on:
                self._worker.request_predictions()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the run and wait for its thread; True when it ended within the timeout."""
        if self._thread is None:
            return True
        self.stop()
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if ended:
            self._release()
        return ended

    def _on_finished(self, history: object) -> None:
        if self._thread is None:  # already shut down
            return
        self._thread.quit()
        self._thread.wait()
        self._release()
        self.finished.emit(history)

    def _release(self) -> None:
        self._thread.deleteLater()
        self._thread = self._worker = None
