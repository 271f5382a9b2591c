"""The Evaluate dialog: the network's figures on the test split (the lines `convscope evaluate`
prints, from the same :class:`engine.evaluation.Evaluation`), and what a weight file recorded
about its training, so a loaded model's accuracy can be read without training it again."""

from __future__ import annotations

import math
import os
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from engine import evaluation
from engine.evaluation import Evaluation
from engine.wording import plural
from gui.error_dialog import reports_errors
from gui.naming import named


def _score(name: str, value: Any, percent: bool) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return f"{name} {value:.2%}" if percent else f"{name} {value:.4f}"


def stored_text(path: str | None, metadata: dict[str, Any], seed: int, init: str, optimizer: Any) -> str:
    """What the weights record (as their file at `path` stores it): epochs, data set, the last
    epoch's metrics and the training settings."""
    data = (metadata.get("dataset") or {}).get("name")
    trained = f"trained {plural(int(metadata.get('epochs', 0)), 'epoch')}" + (f" on {data}" if data else "")
    source = os.path.basename(path) if path else "not saved yet"
    lines = [f"{source}: {trained}, seed {seed}, {init} initialisation"]
    metrics = metadata.get("metrics") or {}
    scores = [
        _score(label, metrics.get(key), key.endswith("acc"))
        for key, label in (
            ("train_acc", "train accuracy"),
            ("train_loss", "train loss"),
            ("val_acc", "validation accuracy"),
            ("val_loss", "validation loss"),
        )
    ]
    if any(scores):
        lines.append("last epoch: " + ", ".join(s for s in scores if s))
    if optimizer is not None:
        settings = ", ".join(f"{k} {v:g}" for k, v in optimizer.config().items() if k != "name")
        lines.append(f"optimizer: {optimizer.name} ({settings}), {plural(optimizer.steps, 'step')} taken")
    return "\n".join(lines)


class EvaluationDialog(QDialog):
    def __init__(self, parent: QWidget, result: Evaluation, names: list[str], data_name: str, stored: str):
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
        self.stored = named(QLabel(stored), "storedLabel", "What the weight file recorded about its training")
        self.stored.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("On the test split:"))
        layout.addWidget(self.figures, 1)
        layout.addWidget(QLabel("Stored with the weights:"))
        layout.addWidget(self.stored)
        layout.addWidget(buttons)
        self.resize(520, 420)


@reports_errors("Cannot evaluate the network")
def evaluate(window: Any) -> None:
    """Evaluate the session's network and show the figures in a dialog the window keeps."""
    session, net = window.session, window.session.net
    stored = stored_text(session.weights_path, net.metadata, net.seed, net.init, session.optimizer)
    names = evaluation.class_names(session.dataset.class_names, net.classes)
    window.evaluation_dialog = EvaluationDialog(
        window, session.evaluate(), names, session.dataset.name, stored
    )
    window.evaluation_dialog.show()
