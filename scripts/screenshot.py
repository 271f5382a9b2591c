"""Render the window after a short training run to assets/screenshot.png (the README's picture).

python scripts/screenshot.py                      # 100% scaling
python scripts/screenshot.py --scale 2 --out /tmp/shot@2x.png
python scripts/screenshot.py --view confusion     # the confusion-matrix dock, a cell clicked
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshot.png")
    parser.add_argument("--scale", type=float, default=1.0, help="Qt scale factor (2 renders at 200%%)")
    parser.add_argument("--images", type=int, default=2000, help="training images to use")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the recipe's schedule spans them)")
    parser.add_argument("--size", default="1440x900", help="window size in logical pixels")
    parser.add_argument(
        "--view", choices=("window", "confusion"), default="window",
        help="what to render (confusion: the dock, floating, to assets/confusion.png unless --out)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from engine import load_dataset
    from engine.recipe import DEFAULT_RECIPE
    from gui.main_window import MainWindow
    from gui.settings_panel import window_threads

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "screenshot.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, dataset=load_dataset(limit=args.images))
        width, height = map(int, args.size.split("x"))
        window.resize(width, height)
        window.show()
        panel = window.settings_panel
        panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
        # Fresh preferences, so the window starts from DEFAULT_RECIPE; only the run is shortened.
        if panel.config() != replace(DEFAULT_RECIPE, threads=window_threads()):
            raise SystemExit(f"the window did not start from the default recipe: {panel.config()}")
        panel.epochs_spin.setValue(args.epochs)
        window.feature_maps_view.show_index(3)
        window.start_training()
        while window.trainer.running:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        deadline = time.perf_counter() + 0.5
        while time.perf_counter() < deadline:  # let the last redraws land
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shown = confusion_dock(app, window, args) if args.view == "confusion" else window
        ok = shown.grab().save(str(args.out))
        window.hide()  # not close(): it would ask whether to save the trained weights
        del window
    print(f"wrote {args.out}" if ok else f"could not write {args.out}")
    return 0 if ok else 1


def confusion_dock(app, window, args: argparse.Namespace):
    """The confusion-matrix dock, floating, with the cell of the most mistakes clicked."""
    import numpy as np
    from PySide6.QtCore import QEventLoop

    if args.out == ROOT / "assets" / "screenshot.png":
        args.out = ROOT / "assets" / "confusion.png"
    dock = window.confusion_dock
    dock.setFloating(True)
    dock.show()
    dock.resize(640, 760)
    counts = window.session.scored.evaluation.counts
    mistakes = counts - np.diag(np.diag(counts))
    dock.view.select_cell(*map(int, np.unravel_index(np.argmax(mistakes), mistakes.shape)))
    for _ in range(10):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return dock.view


if __name__ == "__main__":
    sys.exit(main())
