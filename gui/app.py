"""The application entry point: one QApplication, named so QSettings finds the preferences again.

Qt is imported only once `qt_platform` has found that its platform plugin can load: otherwise
importing QtWidgets fails or creating the QApplication aborts the process."""

from __future__ import annotations

import sys

from gui.qt_platform import platform_problem

ORGANIZATION = "ConvScope"
APPLICATION = "ConvScope"


def main(argv: list[str] | None = None, path: str | None = None) -> int:
    """Open the window (with the weight file or network at `path`, if given) and run the event
    loop; returns the exit code (1 when Qt cannot start)."""
    problem = platform_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    # An INI file everywhere (not the registry or a plist), so the preferences can be checked as
    # text before Qt reads them (gui/preferences.py).
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    from gui.main_thread_gc import MainThreadCollector

    MainThreadCollector(app)

    from engine.runs import default_folder
    from gui.main_window import MainWindow

    window = MainWindow(runs_folder=default_folder())
    window.show()
    if path is not None:
        window.open_file(path)  # a file that cannot be opened is said in the window's error dialog
    return int(app.exec())
