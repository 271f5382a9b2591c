"""The Confusion matrix dock: the session's latest scores on the test split in a
:class:`ConfusionView`, and the image a user picks from it shown in the feature maps and the
Explain dock.

During a run the scores are those of each epoch's validation pass, which the worker sent with
the epoch's report: the dock never predicts the test set itself while a run trains. While the
network is idle and has no scores (new weights, a stopped run), the dock scores a copy of it on a
pool thread once shown (gui.worker.EvaluationJob, as Evaluate does), never on the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QThreadPool, QTimer

from engine.evaluation import Evaluation, class_names
from gui import error_dialog
from gui.error_dialog import reports_errors
from gui.lazy_dock import BuiltWhenShown
from gui.naming import named
from gui.session import EvaluationInput, Scored
from gui.worker import EvaluationJob

TRAINING = "Filled in at the end of each epoch while the network trains."
SCORING = "Scoring the network on the test split…"


class ConfusionDock(BuiltWhenShown):
    """Made empty and hidden; its view is made when first shown."""

    def __init__(self, window: Any):
        super().__init__("Confusion matrix", window)
        named(self, "confusionDock")
        self.main_window = window  # which shows the errors
        self.session = window.session
        #: The copy being scored on a pool thread, if any: one at a time.
        self._scoring: EvaluationInput | None = None
        # One refresh however many changes arrive at once (a new data set: its network, then scores).
        self._refresh_soon = QTimer(self, singleShot=True, interval=0)
        self._refresh_soon.timeout.connect(self.refresh)
        self.session.events.scored.connect(self._scored)
        self.session.events.history.connect(self._history)
        self.visibilityChanged.connect(lambda visible: visible and self.refresh())
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)
        self.hide()

    def _build(self) -> None:
        from gui.confusion_view import ConfusionView

        self.view = ConfusionView()
        self.setWidget(self.view)
        self.view.imageChosen.connect(self.session.choose_sample)  # shown in every view

    def _scored(self, scored: Scored | None) -> None:
        if scored is None:
            self._refresh_soon.start()  # stale: score the idle network again, once things settle
        elif self.isVisible():
            self._draw(scored)

    def _history(self, *_: object) -> None:
        """A run began: the scores so far are of weights it is changing."""
        if self.session.running and self.session.scored is None and self.isVisible():
            self.view.clear(TRAINING)

    def _draw(self, scored: Scored) -> None:
        """Draw `scored` unless it is drawn already (a deferred refresh, or the dock shown again)."""
        if self.view.result is scored.evaluation:
            return
        data = self.session.dataset
        names = class_names(data.class_names, scored.evaluation.classes)
        self.view.show_evaluation(scored.evaluation, scored.when, names, data.test.x)

    @reports_errors("Cannot score the network on the test split")
    def refresh(self) -> None:
        """Draw the latest scores while shown; score the idle network first if it has none."""
        session = self.session
        if not self.isVisible():
            return
        if session.scored is not None:
            self._draw(session.scored)
        elif session.running:
            self.view.clear(TRAINING)
        elif self._scoring is None and tuple(session.dataset.input_shape) == session.net.input_shape:
            self._scoring = session.evaluation_input()
            job = EvaluationJob(self._scoring.net, self._scoring.dataset)
            self._signals = job.signals  # kept while the pool runs (and then deletes) the job
            job.signals.finished.connect(self._scored_copy)
            job.signals.failed.connect(self._failed)
            self.view.clear(SCORING)
            QThreadPool.globalInstance().start(job)

    def _scored_copy(self, result: Evaluation) -> None:
        """The copy's figures: the latest scores (drawn through the session's event), unless the
        weights changed meanwhile; then the new ones are scored."""
        source, self._scoring = self._scoring, None
        if not self.session.evaluated(result, source):
            self._refresh_soon.start()

    def _failed(self, exc: Exception) -> None:
        self._scoring = None
        self.view.clear("The network could not be scored on the test split.")
        error_dialog.report(self, "Cannot score the network on the test split", exc)

    def show_error(self, title: str, text: str, details: str = "") -> None:
        """A failure to score is the window's error dialog (:func:`reports_errors`)."""
        self.main_window.show_error(title, text, details)
