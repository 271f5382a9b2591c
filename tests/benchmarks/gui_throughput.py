"""Training throughput with every live view open versus headless `Network.fit`.

    python tests/benchmarks/gui_throughput.py [--images 4000] [--epochs 10] [--reps 4] [--threads N]

Both train the same default network on the same images with the same settings (the default
recipe's run: 10 epochs of 4,000 images, SGD, batch 32, validation on the test split each epoch,
the same CPU threads: by default the window's, a core fewer than the machine has); the window
run is timed from Train to the worker's `finished`, including its throttled loss, filter and
feature-map updates. Runs alternate, and
so does which of each pair goes first, so a busy machine slows both alike."""

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
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine import Network, load_dataset
from engine.parallel import default_threads
from engine.recipe import Recipe


def headless(dataset, config: Recipe) -> float:
    net = Network(seed=0, device="cpu")
    t = time.perf_counter()
    net.fit(
        dataset.train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        optimizer=config.make_optimizer(),
        validation=dataset.test,
        schedule=config.schedule,
        threads=config.threads,
    )
    return time.perf_counter() - t


def windowed(app: QApplication, dataset, config: Recipe, settings_dir: str) -> tuple[float, float]:
    """Seconds from Train to the worker's end, and the GUI thread's CPU seconds meanwhile."""
    from gui.main_window import MainWindow

    window = MainWindow(
        QSettings(os.path.join(settings_dir, "bench.ini"), QSettings.Format.IniFormat), dataset
    )
    window.resize(1440, 900)
    window.show()
    panel = window.settings_panel
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.epochs_spin.setValue(config.epochs)
    panel.batch_spin.setValue(config.batch_size)
    panel.lr_spin.setValue(config.lr)
    panel.threads_spin.setValue(config.threads)
    # Train on a window already drawn, as a user would, not beside its first paint.
    QTest.qWaitForWindowExposed(window)
    app.processEvents()
    # Block in Qt's own event loop, as the app does: a Python polling loop would contend for the GIL.
    loop = QEventLoop()
    window.trainer.finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
    t, cpu = time.perf_counter(), time.thread_time()
    window.start_training()
    loop.exec()
    seconds, cpu = time.perf_counter() - t, time.thread_time() - cpu
    assert window.loss_plot.batches.size > 0 and window.last_error == ""
    window.close()
    window.deleteLater()
    app.processEvents()
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="default: the window's")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    dataset = load_dataset(limit=args.images)
    from gui.settings_panel import window_threads

    config = Recipe(epochs=args.epochs, batch_size=32, threads=args.threads or window_threads())
    print(f"{config.threads} CPU thread(s) on {default_threads()} core(s)", flush=True)
    images = args.images * args.epochs
    plain, gui, busy = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        headless(dataset, config)  # warm-up: first-touch page faults and the layers' buffers
        for rep in range(args.reps):
            # Alternate which goes first, so a drift within a pair (clock, cache, allocator)
            # does not always favour one side.
            for side in ("headless", "window") if rep % 2 == 0 else ("window", "headless"):
                if side == "headless":
                    plain.append(images / headless(dataset, config))
                else:
                    seconds, cpu = windowed(app, dataset, config, tmp)
                    gui.append(images / seconds)
                    busy.append(cpu / seconds)
            print(
                f"headless {plain[-1]:7.0f} images/s   window {gui[-1]:7.0f} images/s   "
                f"GUI thread busy {100 * busy[-1]:4.1f}%",
                flush=True,
            )
    ratio = statistics.median(gui) / statistics.median(plain)
    print(
        f"median: headless {statistics.median(plain):.0f} images/s, window {statistics.median(gui):.0f} "
        f"images/s, window/headless = {100 * ratio:.1f}%; "
        f"GUI thread busy {100 * statistics.median(busy):.1f}% of the window's runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
