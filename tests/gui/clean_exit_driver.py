"""Run by test_clean_exit.py as a real process: open the window, press Train through its own
action, close the window after about a second of training, answer the real "Quit?" box with
"Quit without saving", and exit with the event loop's code.

    python tests/gui/clean_exit_driver.py SETTINGS.ini

Prints `asked 'Quit ConvScope'` and `closing batches=<n> running=<bool>` as it answers, and
`exited batches=<n>` once the event loop has returned, so the test can tell that training
stopped at the batch in flight."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

TRAINING_S = 1.0


def main(settings_path: str) -> int:
    app = QApplication(sys.argv[:1])
    from gui.main_window import MainWindow

    window = MainWindow(settings=QSettings(settings_path, QSettings.Format.IniFormat))
    window.settings_panel.set_device("cpu")
    window.show()

    batches = [0]

    def count_batches() -> None:
        """The training loop asks its control before every batch it starts."""
        control = window.trainer.worker.control
        checkpoint = control.checkpoint

        def counting(optimizer):
            paused_s = checkpoint(optimizer)
            if not control.stop_requested:
                batches[0] += 1
            return paused_s

        control.checkpoint = counting

    def quit_without_saving() -> None:
        box = app.activeModalWidget()
        if not isinstance(box, QMessageBox):  # not shown yet
            QTimer.singleShot(50, quit_without_saving)
            return
        print(f"asked {box.windowTitle()!r}", flush=True)
        print(f"closing batches={batches[0]} running={window.trainer.running}", flush=True)
        next(b for b in box.buttons() if b.text() == "Quit without saving").click()

    def close() -> None:
        QTimer.singleShot(50, quit_without_saving)
        window.close()

    def started(_update: object) -> None:
        window.trainer.lossUpdated.disconnect(started)
        count_batches()
        QTimer.singleShot(round(TRAINING_S * 1000), close)

    window.trainer.lossUpdated.connect(started)
    QTimer.singleShot(0, window.acts.train.trigger)
    code = app.exec()
    print(f"exited batches={batches[0]}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
