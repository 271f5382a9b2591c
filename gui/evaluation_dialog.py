"""The Evaluate dialog: the network's figures on the test split (the lines `convscope evaluate`
prints, from the same :class:`engine.evaluation.Evaluation`), and what a weight file recorded
about its training, so a loaded model's accuracy can be read without training it again. The
pass over the test split runs on a pool thread (gui.worker.EvaluationJob), never the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QThreadPool
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from engine import evaluation
from engine.evaluation import Evaluation
from engine.wording import plural
from gui import error_dialog
from gui.error_dialog import reports_errors
from gui.naming import named
from gui.plain_text import plain
from gui.session import EvaluationInput
from gui.weights_info import session_text
from gui.worker import EvaluationJob

#: Said of figures that arrive after the weights changed.
EARLIER = "Evaluated the weights as they were when Evaluate was pressed (they have changed since)"


class EvaluationDialog(QDialog):
    """`current` False: the weights changed while `result` was worked out, and the dialog says so."""

    def __init__(
        self,
        parent: QWidget,
        result: Evaluation,
        names: list[str],
        data_name: str,
        stored: str,
        current: bool = True,
    ):
        super().__init__(parent)
        self.setObjectName("evaluationDialog")
        self.setWindowTitle("Evaluation")
        images = plural(len(result.y), "test image")
        self.figures = named(QPlainTextEdit(), "evaluationText", "Loss and accuracy on the test split")
        self.figures.setReadOnly(True)
        self.figures.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.figures.setPlainText(
            f"{data_name}, {images}\n" + "\n".join(evaluation.summary_lines(result, names))
        )
        stored_tip = "What the weight file recorded about its training"
        self.stored = plain(named(QLabel(stored), "storedLabel", stored_tip))
        self.stored.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        self.heading = QLabel("On the test split:" if current else f"{EARLIER}, on the test split:")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        layout.addWidget(self.figures, 1)
        layout.addWidget(QLabel("Stored with the weights:"))
        layout.addWidget(self.stored)
        layout.addWidget(buttons)
        self.resize(520, 420)


class PendingEvaluation(QObject):
    """One Evaluate request: its job runs on a pool thread while the window stays responsive,
    and the dialog opens when the figures arrive. A child of the window, so a window closed
    meanwhile is never handed them."""

    def __init__(self, window: Any, source: EvaluationInput, job: EvaluationJob, stored: str):
        super().__init__(window)
        self.window, self.source, self.stored = window, source, stored
        self.signals = job.signals  # kept while the pool runs (and then deletes) the job
        self.signals.finished.connect(self._finished)
        self.signals.failed.connect(self._failed)

    def _finished(self, result: Evaluation) -> None:
        """Show the figures, and make them the session's latest scores while its weights are
        still those evaluated; otherwise say they are of the weights Evaluate was pressed on."""
        w, dataset = self.window, self.source.dataset
        current = w.session.evaluated(result, self.source)
        names = evaluation.class_names(dataset.class_names, result.classes)
        w.evaluation_dialog = EvaluationDialog(w, result, names, dataset.name, self.stored, current)
        w.evaluation_dialog.show()
        figures = f"accuracy {result.accuracy:.2%}, loss {result.loss:.4f}"
        w.notify(f"Evaluated on the test split: {figures}." if current else f"{EARLIER}: {figures}.")
        self._done()

    def _failed(self, exc: Exception) -> None:
        error_dialog.report(self.window, "Cannot evaluate the network", exc)
        self._done()

    def _done(self) -> None:
        self.window.acts.evaluate.setEnabled(not self.window.trainer.running)
        self.deleteLater()


@reports_errors("Cannot evaluate the network")
def evaluate(window: Any) -> None:
    """Evaluate a copy of the session's network on a pool thread; the dialog opens when done."""
    source = window.session.evaluation_input()
    job = EvaluationJob(source.net, source.dataset)
    PendingEvaluation(window, source, job, session_text(window.session))
    window.acts.evaluate.setEnabled(False)
    window.notify("Evaluating the network on the test split…")
    QThreadPool.globalInstance().start(job)
