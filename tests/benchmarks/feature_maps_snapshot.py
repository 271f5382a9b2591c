"""GUI-thread CPU time per feature-map snapshot: what a run's twice-a-second update of the
feature maps costs the window (the maps coloured and drawn, the probabilities and the colour bar
drawn), in an offscreen 1440×900 window of the default layout.

Each round gives the view new values for the same test image (as a run does) and lets the event
loop repaint; the figure is `time.thread_time` per snapshot, so the machine's load changes it
less than the wall time. Compare trees by running it from each, alternating:

    QT_QPA_PLATFORM=offscreen OPENBLAS_NUM_THREADS=1 python tests/benchmarks/feature_maps_snapshot.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def default_window(app):
    """The window as a first start shows it (offscreen, 1440×900, the built-in data, fresh
    settings), its views made after the first show."""
    from PySide6.QtCore import QSettings

    from engine.data import load_dataset
    from gui import window_layout
    from gui.main_window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, dataset=load_dataset())
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    window_layout.build_after_show(window)
    for _ in range(20):
        app.processEvents()
    return window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshots", type=int, default=200, help="snapshots timed (default 200)")
    parser.add_argument("--reps", type=int, default=3, help="timed rounds (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    window = default_window(app)
    view = window.feature_maps_view
    base = list(view.shown_maps)
    scales = np.linspace(0.9, 0.999, 20)  # new values, mostly the same round colour levels
    snapshots = [[m * s for m in base[:-1]] + [np.roll(base[-1], k)] for k, s in enumerate(scales)]

    def snapshot_ms(count: int) -> float:
        start = time.thread_time()
        for i in range(count):
            view.show_maps(view.index, snapshots[i % len(snapshots)])
            app.processEvents()
        return (time.thread_time() - start) / count * 1e3

    snapshot_ms(20)  # warm
    times = [snapshot_ms(args.snapshots) for _ in range(args.reps)]
    print("GUI-thread CPU per snapshot: " + ", ".join(f"{t:.3f}" for t in times) + " ms")
    window.trainer.shutdown(2000)


if __name__ == "__main__":
    main()
