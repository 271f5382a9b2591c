"""Text that may come from a file is shown as text, never read as HTML.

Qt reads a label's, a message box's or a tool tip's text as HTML when its first line looks like
HTML, and pyqtgraph's titles and legends always do; HTML's `<img src="/dev/zero">` then reads that
file into memory to its end. A class name, a data set's or a run's name, a file's name or an
error message quoting a file can hold it (100 characters are enough), so the widgets that show
such text are made plain here, and the text put into HTML is escaped here."""

from __future__ import annotations

import html
from typing import TypeVar

from PySide6.QtGui import Qt

Shown = TypeVar("Shown")


def plain(widget: Shown) -> Shown:
    """`widget` (a QLabel or a QMessageBox) showing its text as it is."""
    widget.setTextFormat(Qt.TextFormat.PlainText)  # type: ignore[attr-defined]
    return widget


def escaped(text: str) -> str:
    """`text` for a place that reads HTML (pyqtgraph's titles and legends)."""
    return html.escape(text, quote=False)


def tooltip(text: str) -> str:
    """`text` as a tool tip, which Qt reads as HTML when it looks like it."""
    return Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)
