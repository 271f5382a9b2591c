"""Render the time-lapse timeline and the Runs dock to assets/timeline.png and assets/runs.png
(the README's pictures): two short runs on the built-in sample, the default network and the same
with 3×3 kernels in its first layer, kept in a throwaway runs folder.

python scripts/screenshot_analysis.py                 # 100% scaling
python scripts/screenshot_analysis.py --scale 2 --out /tmp/at2x   # 200%, into that folder
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the two PNGs")
    parser.add_argument("--scale", type=float, default=1.0, help="Qt scale factor (2 renders at 200%%)")
    parser.add_argument("--images", type=int, default=2000, help="training images to use")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from engine import load_dataset
    from gui import confirm
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    confirm.ask = lambda *question: confirm.RESTART  # the second run starts from fresh weights

    def settle(seconds: float = 0.5) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def train(kernel: int) -> None:
        session = window.session
        spec = session.spec
        spec["layers"][0]["kernel"] = [kernel, kernel]
        session.edit(spec, session.layer_ids)
        window.editor.set_spec(session.spec, session.layer_ids)
        window.start_training()
        while window.trainer.running:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        settle()

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "screenshot.ini"), QSettings.Format.IniFormat)
        data = load_dataset(limit=args.images)
        window = MainWindow(settings=settings, dataset=data, runs_folder=Path(tmp, "runs"))
        window.resize(1440, 900)
        window.show()
        panel = window.settings_panel
        panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
        panel.epochs_spin.setValue(args.epochs)
        window.feature_maps_view.show_index(3)
        train(5)
        train(3)
        timeline = window.timeline
        timeline.show_frame(2)  # a quarter into the first epoch
        settle()
        args.out.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out / "timeline.png"))
        timeline.go_live()
        dock = window.runs_dock
        dock.show()
        dock.setFloating(True)
        dock.resize(1440, 420)
        settle()
        dock.table.selectAll()
        for run in dock.model.runs:
            dock.model.rename(run.folder, f"kernel {run.spec['layers'][0]['kernel'][0]}")
        dock.refresh()
        dock.table.selectAll()
        settle()
        ok = dock.grab().save(str(args.out / "runs.png")) and ok
        window.hide()  # not close(): it would ask whether to save the trained weights
    print(f"wrote {args.out / 'timeline.png'} and {args.out / 'runs.png'}" if ok else "could not write them")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
