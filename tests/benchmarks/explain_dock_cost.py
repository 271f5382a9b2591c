"""What the Explain dock costs the GUI thread while a run trains: the CPU time (thread time, so
a busy machine does not inflate it) the dock spends on each of the worker's snapshots, with the
kernel explainer shown on one layer.

    python tests/benchmarks/explain_dock_cost.py [--layer 1] [--images 2000] [--epochs 2]

`--layer` is the explainer's choice (0: the notes' example; 1: the default network's first
conv layer, whose 24×24 output map the explainer works out cell by cell)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QEventLoop, QSettings, Qt
from PySide6.QtWidgets import QApplication

from engine import load_dataset


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layer", type=int, default=1)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    _app = QApplication.instance() or QApplication(sys.argv[:1])  # kept: Qt needs it alive
    from gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "bench.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, load_dataset(limit=args.images), runs_folder=None)
        window.resize(1400, 1000)
        window.show()
        panel = window.settings_panel
        panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
        panel.epochs_spin.setValue(args.epochs)
        dock = window.explain_dock
        dock.toggleViewAction().trigger()
        dock.view.source_combo.setCurrentIndex(args.layer)
        costs: list[float] = []
        shown = dock.show_snapshot

        def timed(snapshot) -> None:
            start = time.thread_time()
            shown(snapshot)
            costs.append(time.thread_time() - start)

        window.trainer.snapshotReady.disconnect(dock.show_snapshot)
        window.trainer.snapshotReady.connect(timed)
        loop = QEventLoop()
        window.trainer.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
        started = time.perf_counter()
        window.start_training()
        loop.exec()
        seconds = time.perf_counter() - started
        window.hide()
    print(
        f"{len(costs)} snapshots in {seconds:.0f} s; the dock's GUI-thread CPU per snapshot: median "
        f"{1000 * statistics.median(costs):.1f} ms, max {1000 * max(costs):.1f} ms, "
        f"{100 * sum(costs) / seconds:.1f}% of the run"
    )
    os._exit(0)  # closing would ask whether to keep the trained weights


if __name__ == "__main__":
    sys.exit(main())
