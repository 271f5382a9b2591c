"""The application entry point: one QApplication, named so QSettings finds the preferences again."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

ORGANIZATION = "ConvScope"
APPLICATION = "ConvScope"


def main(argv: list[str] | None = None) -> int:
    """Open the window and run the event loop; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")

    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    return int(app.exec())
