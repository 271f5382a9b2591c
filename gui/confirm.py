"""The questions the window asks before it throws work away or changes what Train means. Every
one goes through :func:`ask`, so a test answers it in place of the modal dialog."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.wording import plural
from gui.plain_text import plain

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
CONTINUE, RESTART = "continue", "restart"
NCHW, NHWC = "nchw", "nhwc"
_ROLES = {
    SAVE: QMessageBox.ButtonRole.AcceptRole,
    CONTINUE: QMessageBox.ButtonRole.AcceptRole,
    DISCARD: QMessageBox.ButtonRole.DestructiveRole,
    RESTART: QMessageBox.ButtonRole.DestructiveRole,
    CANCEL: QMessageBox.ButtonRole.RejectRole,
    NCHW: QMessageBox.ButtonRole.ActionRole,
    NHWC: QMessageBox.ButtonRole.ActionRole,
}


def ask(parent: QWidget, title: str, text: str, choices: tuple[tuple[str, str], ...]) -> str:
    """Show `text` with a button per (answer, label) in `choices`, the first the default;
    returns the answer picked, CANCEL when the box is closed."""
    box = plain(QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent))
    buttons = {box.addButton(label, _ROLES[answer]): answer for answer, label in choices}
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    return buttons.get(box.clickedButton(), CANCEL)


def may_discard(window: Any, consequence: str) -> bool:
    """Whether an action that replaces the trained weights (`consequence` says how) may go ahead:
    at once when they are saved; otherwise after the user saves them or agrees to lose them."""
    if not window.session.unsaved:
        return True
    answer = ask(
        window,
        "Unsaved trained weights",
        f"The trained weights are not saved. {consequence}\n\nSave them first?",
        ((SAVE, "Save…"), (DISCARD, "Discard"), (CANCEL, "Cancel")),
    )
    if answer == SAVE:
        window.save_weights()
        return not window.session.unsaved
    return answer == DISCARD


def quit_answer(window: Any) -> str:
    """SAVE, DISCARD or CANCEL for quitting with a run in progress or unsaved trained weights;
    DISCARD when there is nothing to lose."""
    running = window.trainer.running
    if not running and not window.session.unsaved:
        return DISCARD
    doing = "Training is in progress. Quitting stops it and discards" if running else "Quitting discards"
    return ask(
        window,
        "Quit ConvScope",
        f"{doing} the trained weights, which are not saved.\n\nSave them first?",
        ((SAVE, "Save…"), (DISCARD, "Quit without saving"), (CANCEL, "Cancel")),
    )


def continue_or_restart(window: Any, epochs: int) -> str:
    """CONTINUE, RESTART or CANCEL for Train on a network that has trained already; CONTINUE
    for a fresh one. `epochs`: the run the panel sets up."""
    done = window.session.epochs_trained
    if done == 0:
        return CONTINUE
    return ask(
        window,
        "Train",
        f"The network has trained {plural(done, 'epoch')}.\n\n"
        f"Continue: train epochs {done + 1} to {done + epochs} from these weights; the "
        "learning-rate schedule then spans all of them, so it starts where that point of the "
        "curve is (a cosine or step rate rises again).\n\n"
        "Start again: new weights from the seed, a new history, epochs 1 to "
        f"{epochs}; the trained weights are discarded.",
        ((CONTINUE, "Continue"), (RESTART, "Start again"), (CANCEL, "Cancel")),
    )


def layout_of(window: Any, readings: str) -> str:
    """NCHW, NHWC or CANCEL for a data file whose images read both ways (`readings` says how)."""
    return ask(
        window,
        "How are the images stored?",
        f"{readings}.\n\nWhich reading is right?",
        ((NCHW, "Channels first (NCHW)"), (NHWC, "Channels last (NHWC)"), (CANCEL, "Cancel")),
    )
