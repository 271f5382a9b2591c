"""The run bar above the plots: Train, Pause, Stop and Reset buttons, the progress bar and the
speed label, and which of them may be used in each state of a run."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine import BatchInfo
from gui.naming import named

STEPS = 1000


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


class RunBar(QWidget):
    #: The progress bar's value, set through a queued connection: `QProgressBar.setValue` repaints
    #: at once, and from Python that repaint holds the GIL the worker trains with; queued, Qt calls
    #: it from its event loop without Python.
    _progress = Signal(int)

    def __init__(self, train: QAction, pause: QAction, stop: QAction, reset: QAction):
        super().__init__()
        self._actions = (train, pause, stop, reset)
        self.train_button = self._button("Train", "trainButton", train)
        self.pause_button = self._button("Pause", "pauseButton", pause)
        self.stop_button = self._button("Stop", "stopButton", stop)
        self.reset_button = self._button("Reset weights", "resetButton", reset)
        self.train_button.setDefault(True)
        self.progress_bar = named(
            QProgressBar(), "progressBar", "Progress of the current run: epoch and batch", "Training progress"
        )
        self.progress_bar.setRange(0, STEPS)
        self.progress_bar.setTextVisible(True)
        # Wide enough for its longest text, so docks opened beside the plots cannot cut it off.
        self.progress_bar.setMinimumWidth(
            self.fontMetrics().horizontalAdvance("paused · epoch 000/000 · batch 0000/0000") + 16
        )
        self._progress.connect(self.progress_bar.setValue, Qt.ConnectionType.QueuedConnection)
        self.rate_label = named(
            QLabel(""), "rateLabel", "Training speed, time left in this run, and the current learning rate"
        )
        # Laid out by the window, on the line under the bar: beside it, the run bar's least width
        # (900 px) left a dock at the window's side 193 px of 1440.
        # A fixed size, so a new speed or ETA (5 times a second) repaints the label alone: a label
        # that may grow asks the whole window to lay itself out again at each new text. Filling its
        # own background spares repainting the run bar and the window under it.
        self.rate_label.setFixedSize(
            self.fontMetrics().horizontalAdvance("000,000 images/s · ETA 000:00 · lr 0.000000"),
            self.rate_label.sizeHint().height(),
        )
        for widget in (self.progress_bar, self.rate_label):
            widget.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.train_button, self.pause_button, self.stop_button, self.reset_button):
            layout.addWidget(button)
        layout.addSpacing(12)
        layout.addWidget(self.progress_bar, 1)
        self._start_epoch, self._epochs = 0, 1
        self._paused = False
        self._last: BatchInfo | None = None
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("ready")

    @staticmethod
    def _button(text: str, name: str, action: QAction) -> QPushButton:
        button = named(QPushButton(text), name, action.toolTip(), text)
        button.clicked.connect(action.trigger)
        return button

    def set_state(self, *, running: bool, paused: bool, can_train: bool) -> None:
        """Enable what each state allows: Train and Reset when idle with a valid network, Pause
        and Stop while running; Pause reads Resume while paused."""
        train, pause, stop, reset = self._actions
        for action, button, on in (
            (train, self.train_button, can_train and not running),
            (pause, self.pause_button, running),
            (stop, self.stop_button, running),
            (reset, self.reset_button, can_train and not running),
        ):
            action.setEnabled(on)
            button.setEnabled(on)
        self.pause_button.setText("Resume" if paused else "Pause")
        pause.setText("&Resume" if paused else "&Pause")

    def begin(self, start_epoch: int, epochs: int) -> None:
        self._start_epoch, self._epochs = start_epoch, epochs
        self._paused, self._last = False, None
        self._progress.emit(0)
        self.progress_bar.setFormat("starting…")

    def show_warming(self) -> None:
        """Before the first batch of a launch's first run: the host's kernels compile, seconds on
        a machine's first run (gui.kernel_warmup)."""
        self.progress_bar.setFormat("preparing the compiled CPU kernels…")

    def show_batch(self, info: BatchInfo) -> None:
        self._last = info
        done = (info.epoch - 1 - self._start_epoch) * info.batches + info.batch
        self._progress.emit(round(STEPS * done / max(1, self._epochs * info.batches)))
        self._show_text(info)

    def show_paused(self, paused: bool) -> None:
        """While paused the bar says so and the ETA stands still (a batch that ends after the
        pause was asked for keeps it so)."""
        self._paused = paused
        if self._last is not None:
            self._show_text(self._last)
        elif paused:
            self.progress_bar.setFormat("paused")

    def _show_text(self, info: BatchInfo) -> None:
        where = f"epoch {info.epoch}/{info.epochs} · batch {info.batch}/{info.batches}"
        self.progress_bar.setFormat(f"paused · {where}" if self._paused else where)
        eta = "paused" if self._paused else duration(info.eta_s)
        self.rate_label.setText(f"{info.images_per_s:,.0f} images/s · ETA {eta} · lr {info.lr:.3g}")

    def show_outcome(self, outcome: str) -> None:
        """ "ready" (empties the bar), "done" (fills it), "stopped" or "failed" (leave it). The
        speed, ETA and learning rate were the run's: they go with it."""
        self.rate_label.setText("")
        self._paused = False
        if outcome == "ready":
            self._progress.emit(0)
        elif outcome == "done":
            self._progress.emit(STEPS)
        self.progress_bar.setFormat(outcome)
