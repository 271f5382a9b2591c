"""What the network's weights record about their training, in a line or three under the run bar:
the weight file, the epochs and data set, the last epoch's metrics, the seed and initialisation,
and the optimizer's settings. Shown as soon as a file is opened, so a loaded model's accuracy
and how it was trained are read without another click, and kept current as the weights change."""

from __future__ import annotations

import math
import os
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from engine.wording import plural
from gui.naming import named
from gui.plain_text import plain
from gui.session import Session


def _score(name: str, value: Any, percent: bool) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return f"{name} {value:.2%}" if percent else f"{name} {value:.4f}"


def stored_text(
    path: str | None, metadata: dict[str, Any], seed: int, init: str, optimizer: Any, changed: bool = False
) -> str:
    """What the weights record (as their file at `path` stores it, marked * when they have
    `changed` since): epochs, data set, the last epoch's metrics and the training settings."""
    data = (metadata.get("dataset") or {}).get("name")
    trained = f"trained {plural(int(metadata.get('epochs', 0)), 'epoch')}" + (f" on {data}" if data else "")
    source = os.path.basename(path) + ("*" if changed else "") if path else "not saved yet"
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


def session_text(session: Session) -> str:
    """:func:`stored_text` for the session's network and optimizer, * as in the title."""
    net, path = session.net, session.weights_path
    return stored_text(path, net.metadata, net.seed, net.init, session.optimizer, session.dirty)


class WeightsInfo(QLabel):
    """The session's :func:`session_text`, redrawn when the network, its file or its optimizer
    change; not while a run trains, since the run's thread owns the network until it ends (its
    end marks the weights changed, which redraws this)."""

    def __init__(self, session: Session):
        super().__init__()
        named(self, "weightsInfo", "What the weights record about their training: epochs, scores, settings")
        plain(self)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session = session
        session.events.network.connect(self.render)
        session.events.weights_file.connect(self.render)
        session.events.optimizer.connect(lambda _optimizer: self.render())
        self.render()

    def render(self) -> None:
        if not self.session.running:
            self.setText(session_text(self.session))
