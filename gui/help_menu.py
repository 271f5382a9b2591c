"""The Help menu: the keyboard shortcuts (read from the window's actions, so the list never
disagrees with them), how to read the views, and About (versions and the device)."""

from __future__ import annotations

import platform
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMainWindow, QVBoxLayout

from gui.naming import named

READING = """<p><b>Loss</b>: the cross-entropy of each batch (faint), its smoothed trend, and the
loss on the test split after each epoch. Falling is learning; a validation loss that rises
while the batch loss falls is overfitting.</p>
<p><b>Accuracy</b>: the share of training and test images classified right, once an epoch.</p>
<p><b>Learned filters</b>: one tile per filter and input channel (a filter's channels side by
side), red for positive weights and blue for negative (the colour bar gives the scale). Hover a
tile to read its weights, click it to see the filter's numbers and bias; the wheel zooms, Fit
shows them all again.</p>
<p><b>Feature maps</b>: one test image through the network, each layer's output as a mosaic of
its channels (bright is a strong response), and the predicted probabilities last, the true class
outlined. Hover a map for its channel and the value under the mouse; the colour bar gives the
scale of the layer last hovered; click a map to see it large. Pick the image with the arrows or
its number; tick "Misclassified only" to step through the mistakes.</p>
<p><b>Confusion matrix</b> (Analyse menu): a row per true class, a column per predicted class;
green is right, red a mistake (the darker, the more). Beside each row, the class's precision
(of the images labelled it, the share that are), recall (of its images, the share labelled
right) and accuracy. Click a cell for its images, the most confident first, and one of those
to follow it through the network.</p>"""

PACKAGES = ("convscope", "numpy", "PySide6-Essentials", "pyqtgraph", "safetensors", "cupy")


def versions() -> list[str]:
    import importlib.metadata  # only for About: reading package metadata is slow to import

    found = [f"Python {platform.python_version()}"]
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def shortcuts(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what) for every action of the window that has a shortcut, in menu order."""
    listed = []
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            keys = action.shortcut().toString()
            if keys:
                listed.append((keys, action.text().replace("&", "")))
    return listed


def _show(window: Any, title: str, html: str) -> None:
    dialog = QDialog(window)
    dialog.setObjectName("helpDialog")
    dialog.setWindowTitle(title)
    text = named(QLabel(html), "helpText")
    text.setWordWrap(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(480, dialog.sizeHint().height())
    window.help_dialog = dialog
    dialog.show()


def build_help_menu(window: Any) -> None:
    """Adds the Help menu; the shortcuts are read from the menus when asked for."""
    menu = window.menuBar().addMenu("&Help")

    def keys() -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{what}</td></tr>" for k, what in shortcuts(window))
        _show(window, "Keyboard shortcuts", f"<table cellspacing='4'>{rows}</table>")

    def about() -> None:
        device = window.session.net.backend.description
        _show(
            window,
            "About ConvScope",
            "<p><b>ConvScope</b>: build a small convolutional network, train it and watch it learn.</p>"
            f"<p>{'<br>'.join(versions())}</p><p>The network lives on {device}.</p>",
        )

    for text, name, slot in (
        ("&Keyboard Shortcuts", "shortcutsAction", keys),
        ("&How to Read the Views", "readingAction", lambda: _show(window, "How to read the views", READING)),
        ("&About ConvScope", "aboutAction", about),
    ):
        action = named(QAction(text, window), name, text.replace("&", ""))
        action.triggered.connect(slot)
        menu.addAction(action)
