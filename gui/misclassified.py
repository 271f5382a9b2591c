"""Which test images the idle network gets wrong, for the feature maps' "misclassified only"
list. From the session's latest scores when they are of the weights as they are (a run's last
epoch, Evaluate, the confusion dock), else from one pass of a copy of the network on a pool
thread (gui.worker.EvaluationJob, as Evaluate does), never on the GUI thread: the window stays
responsive meanwhile, and the pass's scores become the session's latest. During a run the
worker sends each epoch's predictions instead (:meth:`gui.trainer.Trainer.track_misclassified`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QThreadPool

from engine.evaluation import Evaluation
from gui import error_dialog
from gui.error_dialog import reports_errors
from gui.session import EvaluationInput, Scored
from gui.worker import EvaluationJob


class MisclassifiedList(QObject):
    """Keeps `window.feature_maps_view`'s list of mistakes for the idle network while it is ticked."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window, self.session, self.view = window, window.session, window.feature_maps_view
        #: The copy being scored on a pool thread, if any: one at a time.
        self._scoring: EvaluationInput | None = None
        self.view.misclassifiedToggled.connect(self._toggled)
        self.session.events.scored.connect(self._scored)

    @property
    def scoring(self) -> bool:
        """Whether a pass for the list is under way on a pool thread."""
        return self._scoring is not None

    def network_changed(self) -> None:
        """New weights: the list so far is stale; worked out again while ticked."""
        self.view.set_misclassified(None)
        self.refresh()

    def _toggled(self, on: bool) -> None:
        trainer = self.window.trainer
        if trainer.running:
            trainer.track_misclassified(on)
        elif on:
            self.refresh()

    def _scored(self, scored: Scored | None) -> None:
        if scored is not None and not self.session.running and self.view.misclassified_check.isChecked():
            self.view.set_misclassified(scored.evaluation.predicted)

    @reports_errors("Cannot find the misclassified test images")
    def refresh(self) -> None:
        """While ticked and idle: the latest scores' mistakes, or a pass to find them."""
        session = self.session
        if session.running or not self.view.misclassified_check.isChecked():
            return
        if session.scored is not None:
            self.view.set_misclassified(session.scored.evaluation.predicted)
        elif self._scoring is None:
            self._scoring = session.evaluation_input()
            job = EvaluationJob(self._scoring.net, self._scoring.dataset)
            self._signals = job.signals  # kept while the pool runs (and then deletes) the job
            job.signals.finished.connect(self._scored_copy)
            job.signals.failed.connect(self._failed)
            QThreadPool.globalInstance().start(job)

    def _scored_copy(self, result: Evaluation) -> None:
        """The copy's figures: the latest scores (and so the list, through the session's event),
        unless the weights changed meanwhile; then the new ones are scored."""
        source, self._scoring = self._scoring, None
        if not self.session.evaluated(result, source):
            self.refresh()

    def _failed(self, exc: Exception) -> None:
        self._scoring = None
        error_dialog.report(self.window, "Cannot find the misclassified test images", exc)

    def show_error(self, title: str, text: str, details: str = "") -> None:
        """A failure to start the pass is the window's error dialog (:func:`reports_errors`)."""
        self.window.show_error(title, text, details)
