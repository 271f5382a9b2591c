"""Live single-image inference: one 28×28 image through the default network with every layer's
feature maps (`Network.feature_maps`, what the window's feature-map view and the drawing pad
ask for), and its class probabilities alone (`Network.predict_proba`). Goal: under 2 ms (median),
so that redrawing at 60 Hz costs under 15% of a core.

    python tests/benchmarks/bench_live.py [--calls 2000]

Times are the calling thread's CPU time (`time.thread_time`), which the other programs on a
busy machine inflate far less than the wall clock; the wall time is printed beside it."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import Network, load_dataset


def median_us(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median CPU and wall microseconds of `fn()`, after a warm-up."""
    for _ in range(min(100, calls)):
        fn()
    cpu, wall = [], []
    for _ in range(calls):
        c, w = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return 1e6 * statistics.median(cpu), 1e6 * statistics.median(wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    net = Network(seed=0, device="cpu")
    images = load_dataset().test.x
    image = images[:1]
    print("load average before the run: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    for name, fn in (
        ("feature_maps, every layer", lambda: net.feature_maps(image)),
        ("predict_proba, probabilities only", lambda: net.predict_proba(image)),
    ):
        cpu, wall = median_us(fn, args.calls)
        print(
            f"{name}: median {cpu:.0f} µs CPU ({wall:.0f} µs wall); "
            f"at 60 Hz {100 * 60 * cpu / 1e6:.1f}% of a core (goal < 2,000 µs, < 15%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
