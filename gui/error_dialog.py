"""The window's error dialogs, and the one way an action reports its failure, so none is swallowed.

A failure the user caused (`ConvScopeError`, or the operating system refusing a file) is shown as
its message; anything else is a bug: it is logged with its traceback and shown with it, so the
user can report it, and the window carries on."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.errors import ConvScopeError, clip
from gui.plain_text import plain

log = logging.getLogger("convscope")

Action = TypeVar("Action", bound=Callable[..., Any])


class Reporter(Protocol):
    """A window that can show an error dialog (the main window records its last one)."""

    def show_error(self, title: str, text: str, details: str = "") -> None: ...


def show_error(parent: QWidget, title: str, text: str, details: str = "") -> QMessageBox:
    """A window-modal message that does not block the event loop (nor the tests); `details`
    (a traceback) sits behind the dialog's "Show Details…" button."""
    box = plain(QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent))
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if details:
        box.setDetailedText(details)
    box.open()
    return box


def describe(exc: BaseException) -> tuple[str, str]:
    """(message, details) for a failed action: a user's error is its message alone, a bug its
    type and message with the traceback as details."""
    if isinstance(exc, ConvScopeError):
        return str(exc), ""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}", ""
    details = "".join(traceback.format_exception(exc))
    text = f"An unexpected error stopped this action (a bug in ConvScope): {type(exc).__name__}: {clip(exc)}"
    return text, details


def report(window: Reporter, title: str, exc: BaseException) -> None:
    """Show `exc` in a dialog titled `title`; a bug is also logged with its traceback."""
    text, details = describe(exc)
    if details:
        log.error("%s", title, exc_info=exc)
    window.show_error(title, text, details)


def reports_errors(title: str) -> Callable[[Action], Action]:
    """Decorates a window's action (open, save, ...): whatever it raises is shown in a dialog
    titled `title`, and a bug is also logged with its traceback; the action then returns None."""

    def decorate(action: Action) -> Action:
        @functools.wraps(action)
        def run(window: Reporter, *args: Any, **kwargs: Any) -> Any:
            try:
                return action(window, *args, **kwargs)
            except Exception as exc:
                report(window, title, exc)
                return None

        return run  # type: ignore[return-value]

    return decorate
