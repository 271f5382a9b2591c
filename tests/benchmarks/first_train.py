"""The first Train in a fresh process, as a user meets it: how long until the first batch is
reported, and whether the window's event loop keeps turning meanwhile (the host's compiled
kernels compile on their first call, in the training thread, under the GIL for much of it).

A 10 ms QTimer on the GUI thread records when it fires; a gap between ticks is a stall the user
would feel, counted from Train to the first batch. The run is stopped 2 s after its first batch.
By default Numba's cache is an empty temporary folder (a machine's first run); `--cache DIR`
keeps it there, so a second call reads the kernels from disk. Compare with the NumPy code alone
by setting CONVSCOPE_JIT=0:

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/first_train.py
    QT_QPA_PLATFORM=offscreen python tests/benchmarks/first_train.py --cache /tmp/nc  # twice
    CONVSCOPE_JIT=0 QT_QPA_PLATFORM=offscreen python tests/benchmarks/first_train.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from feature_maps_snapshot import default_window  # beside this file

TICK_MS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", help="Numba's cache folder (default: a new empty one)")
    parser.add_argument("--after", type=float, default=2.0, help="seconds trained after the first batch")
    args = parser.parse_args()
    os.environ["NUMBA_CACHE_DIR"] = args.cache or tempfile.mkdtemp(prefix="numba-cache-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    window = default_window(app)
    ticks: list[float] = []
    texts: list[tuple[float, str]] = []
    first: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def watch_text() -> None:
        text = window.run_bar.progress_bar.format()
        if not texts or texts[-1][1] != text:
            texts.append((time.perf_counter(), text))

    timer.timeout.connect(watch_text)
    window.trainer.lossUpdated.connect(lambda _: first or first.append(time.perf_counter()))
    timer.start()
    cpu = time.thread_time()
    start = time.perf_counter()
    window.acts.train.trigger()
    while not first or time.perf_counter() - first[0] < args.after:
        app.processEvents()
        time.sleep(0.002)
        if time.perf_counter() - start > 600:
            break
    gui_cpu = time.thread_time() - cpu
    window.trainer.stop()
    while window.trainer.running:
        app.processEvents()
        time.sleep(0.01)
    timer.stop()
    to_first = first[0] - start if first else float("nan")
    before = [t for t in ticks if not first or t <= first[0]]  # while the kernels are made ready
    gaps = sorted((b - a) * 1e3 for a, b in zip(before, before[1:], strict=False)) or [0.0]
    switch = os.environ.get("CONVSCOPE_JIT", "")
    print(f"CONVSCOPE_JIT={switch!r}, NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']}")
    print(f"first batch reported {to_first:.2f} s after Train")
    print(
        f"event loop until then: {len(before)} ticks of {TICK_MS} ms; longest gap "
        f"{gaps[-1]:.0f} ms, median {gaps[len(gaps) // 2]:.0f} ms; gaps over 100 ms: "
        f"{sum(g > 100 for g in gaps)}, over 250 ms: {sum(g > 250 for g in gaps)}; "
        f"GUI-thread CPU {gui_cpu:.2f} s"
    )
    print("run bar: " + " → ".join(f"{text!r} at {t - start:.2f} s" for t, text in texts[:6]))
    window.trainer.shutdown(2000)


if __name__ == "__main__":
    main()
