"""How long an image folder of 10,000 small images takes to load (`load_dataset` on a folder).

Not a test: run ``python tests/benchmarks/bench_image_folder.py [--images N] [--size S] [--window]``.
It writes N grey S×S PNGs from the built-in digits into 10 class folders in a temporary folder,
then times `load_dataset` on it (cold headers and decoding; the OS file cache is warm from
writing), printing wall time, this process's CPU time (every thread's) and the load average.
`--window` also times each load as the window makes it: on the loading thread of
`gui.data_loading.DataLoader`, with its progress dialog drawn offscreen, until its `finished`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", action="store_true", help="also time the window's loading thread")
    args = parser.parse_args()
    digits = load_dataset()
    x = np.concatenate([digits.train.x, digits.test.x])
    y = np.concatenate([digits.train.y, digits.test.y])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for i in range(args.images):
            pixels = np.round(x[i % len(x), 0] * 255).astype(np.uint8)
            image = Image.fromarray(pixels)
            if args.size != pixels.shape[0]:
                image = image.resize((args.size, args.size))
            target = root / str(y[i % len(y)]) / f"{i}.png"
            target.parent.mkdir(exist_ok=True)
            image.save(target)
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            data = load_dataset(root)
            report(f"{len(data.train.x) + len(data.test.x):,} images {args.size}×{args.size}", wall, cpu)
            if args.window:
                window_load(root)


def report(what: str, wall: float, cpu: float) -> None:
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{what}: {wall:.2f} s wall, {cpu:.2f} s CPU, load average {os.getloadavg()[0]:.1f}", flush=True)


def window_load(root: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QWidget

    from gui.data_loading import DataLoader
    from gui.session import LoadOptions

    app = QApplication.instance() or QApplication([])
    parent = QWidget()
    parent.show()
    loader, loop, updates = DataLoader(parent), QEventLoop(), []
    loader.finished.connect(loop.quit)
    loader.progressed.connect(lambda done, _: updates.append(done))
    wall, cpu = time.perf_counter(), time.process_time()
    loader.start(str(root), LoadOptions(), root.name)
    loop.exec()
    report(f"  through the window's loader ({len(updates)} progress updates)", wall, cpu)
    parent.close()
    app.processEvents()


if __name__ == "__main__":
    main()
