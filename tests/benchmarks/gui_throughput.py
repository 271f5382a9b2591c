"""Training throughput with every live view open versus headless `Network.fit`.

    python tests/benchmarks/gui_throughput.py [--images 4000] [--epochs 10] [--reps 6] [--threads N]
                                              [--analysis]

Both train the same default network on the same images with the same settings (the default
recipe's run: 10 epochs of 4,000 images, SGD, batch 32, validation on the test split each epoch,
the same CPU threads: by default the window's, a core fewer than the machine has); the window
run is timed from Train to the worker's `finished`, including its throttled loss, filter and
feature-map updates; with --analysis, also with the analysis views open (the confusion-matrix
dock, a cell clicked so its thumbnails are listed again at each epoch's end; the Runs dock with
the earlier repetitions' runs picked, their curves overlaid, each run kept in it at its end; the
time-lapse timeline under the views, live, is there in both). Runs alternate, and
so does which of each pair goes first, so a busy machine slows both alike; the figure is the
median of the pairs' ratios. The training thread's CPU time per image and its wait (wall time
minus CPU time: the GIL, held by the GUI thread's Python) tell apart what the window costs
from a machine whose speed drifts between runs. The GUI thread's CPU time per image is what the
views cost; their throttled updates come so many a second, so a run that load slows costs more."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine import Network, fit, load_dataset
from engine.parallel import default_threads
from engine.recipe import Recipe


@dataclass(frozen=True)
class Timing:
    seconds: float
    training_cpu: float  # CPU seconds of every thread but the GUI thread: the training thread's
    gui_cpu: float = 0.0


def headless(dataset, config: Recipe) -> Timing:
    net = Network(seed=0, device="cpu")
    t, cpu = time.perf_counter(), time.process_time()
    fit(
        net,
        dataset.train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=config.make_optimizer(),
        validation=dataset.test,
        schedule=config.schedule,
        threads=config.threads,
    )
    return Timing(time.perf_counter() - t, time.process_time() - cpu)


def open_analysis(app: QApplication, window) -> None:
    """Show the analysis views, as a user watching where the network fails would."""
    dock = window.confusion_dock
    dock.show()
    while window.session.scored is None:  # the dock scores the idle network once shown
        app.processEvents()
    dock.view.select_cell(1, 1)  # about a tenth of the test images: their thumbnails each epoch
    runs = window.runs_dock  # the earlier repetitions' runs, all picked: their curves and table
    runs.show()
    runs.table.selectAll()


def windowed(app: QApplication, dataset, config: Recipe, settings_dir: str, analysis: bool) -> Timing:
    """From Train to the worker's end."""
    from gui.main_window import MainWindow

    window = MainWindow(
        QSettings(os.path.join(settings_dir, "bench.ini"), QSettings.Format.IniFormat),
        dataset,
        runs_folder=os.path.join(settings_dir, "runs") if analysis else None,
    )
    window.resize(1440, 900)
    window.show()
    panel = window.settings_panel
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.epochs_spin.setValue(config.epochs)
    panel.batch_spin.setValue(config.batch_size)
    panel.lr_spin.setValue(config.lr)
    panel.threads_spin.setValue(config.threads)
    if analysis:
        open_analysis(app, window)
    # Train on a window already drawn, as a user would, not beside its first paint.
    QTest.qWaitForWindowExposed(window)
    app.processEvents()
    # Block in Qt's own event loop, as the app does: a Python polling loop would contend for the GIL.
    loop = QEventLoop()
    window.trainer.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
    t, cpu, gui = time.perf_counter(), time.process_time(), time.thread_time()
    window.start_training()
    loop.exec()
    seconds, cpu, gui = time.perf_counter() - t, time.process_time() - cpu, time.thread_time() - gui
    assert window.loss_plot.batches.size > 0 and window.last_error == ""
    if analysis:  # the dock drew the last epoch's pass
        view = window.confusion_dock.view
        assert view.header.text().startswith(f"Test split, after epoch {config.epochs} ")
        assert view.thumbnails.count() > 0
        # the run was kept and listed; the timeline stayed live and took in its snapshots
        assert window.runs_dock.table.rowCount() == len(window.session.list_runs()[0]) > 0
        timeline = window.timeline
        assert timeline.live and timeline.slider.maximum() == len(window.session.timelapse.frames)
    window.hide()  # not close(): it asks whether to save the trained weights, and waits
    window.deleteLater()
    # Deleted now: processEvents() leaves deferred deletes to the next event loop, which was
    # the next repetition's timed run (tens of ms, more with the analysis views' docks).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    return Timing(seconds, cpu - gui, gui)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=None, help="default: the window's")
    parser.add_argument("--analysis", action="store_true", help="open the analysis views too")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    dataset = load_dataset(limit=args.images)
    from gui.settings_panel import window_threads

    config = Recipe(epochs=args.epochs, batch_size=32, threads=args.threads or window_threads())
    print(f"{config.threads} CPU thread(s) on {default_threads()} core(s)", flush=True)
    images = args.images * args.epochs
    runs: dict[str, list[Timing]] = {"headless": [], "window": []}
    with tempfile.TemporaryDirectory() as tmp:
        headless(dataset, config)  # warm-up: first-touch page faults and the layers' buffers
        for rep in range(args.reps):
            # Alternate which goes first, so a drift within a pair (clock, cache, allocator)
            # does not always favour one side.
            for side in ("headless", "window") if rep % 2 == 0 else ("window", "headless"):
                if side == "headless":
                    run = headless(dataset, config)
                else:
                    run = windowed(app, dataset, config, tmp, args.analysis)
                runs[side].append(run)
            plain, gui = runs["headless"][-1], runs["window"][-1]
            print(
                f"headless {images / plain.seconds:5.0f} images/s   window {images / gui.seconds:5.0f} "
                f"images/s ({100 * plain.seconds / gui.seconds:5.1f}%)   training CPU per image "
                f"{1e6 * plain.training_cpu / images:3.0f} / {1e6 * gui.training_cpu / images:3.0f} µs   "
                f"training waits {100 * (1 - gui.training_cpu / gui.seconds):3.1f}%   "
                f"GUI thread busy {100 * gui.gui_cpu / gui.seconds:3.1f}% "
                f"({1e6 * gui.gui_cpu / images:3.0f} µs CPU per image)",
                flush=True,
            )

    def median(side: str, of) -> float:
        return statistics.median(of(run) for run in runs[side])

    ratios = [p.seconds / w.seconds for p, w in zip(runs["headless"], runs["window"], strict=True)]
    print(
        f"median of {args.reps} pairs: window/headless = {100 * statistics.median(ratios):.1f}% "
        f"(pairs {100 * min(ratios):.1f}–{100 * max(ratios):.1f}%; headless "
        f"{median('headless', lambda r: images / r.seconds):.0f}, window "
        f"{median('window', lambda r: images / r.seconds):.0f} images/s); training CPU per image "
        f"{1e6 * median('headless', lambda r: r.training_cpu) / images:.0f} headless, "
        f"{1e6 * median('window', lambda r: r.training_cpu) / images:.0f} µs in the window, "
        f"which waits {100 * median('window', lambda r: 1 - r.training_cpu / r.seconds):.1f}% of its run; "
        f"GUI thread busy {100 * median('window', lambda r: r.gui_cpu / r.seconds):.1f}%, "
        f"{1e6 * median('window', lambda r: r.gui_cpu) / images:.0f} µs of its CPU time per image"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
