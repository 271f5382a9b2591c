"""Where a training step's time goes on each of the host's threads (Linux only).

Not a test: run ``python tests/benchmarks/bench_threads.py --threads 2``; see the README beside
it. It trains the default network with ``engine.fit`` as bench_cpu.py does and reads each
thread's CPU clock and its time waiting for a CPU (``/proc/thread-self/schedstat``) at the
start and end of every part of a split batch and around the whole run. A part
waits on nothing but the GIL, so its wall time less its CPU time and its run-queue wait is the
time it waited for the GIL; the run-queue wait is what other programs took. Per step it prints,
for the calling thread and each part: wall, CPU, run-queue wait and blocked time, the part's
start after the hand-off, and the hand-offs made (parts and work lent to an idle thread).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cpu import SEED, load, sgd

from engine import Network, fit
from engine.parallel import INLINE, Beside, Threads


def clocks() -> tuple[float, float, float]:
    """(wall, CPU, run-queue wait) seconds of the calling thread so far. The CPU time is the
    thread's clock: schedstat's own first field lags by the running time slice."""
    with open("/proc/thread-self/schedstat") as f:
        queued = f.read().split()[1]
    return time.perf_counter(), time.thread_time(), int(queued) / 1e9


class Record:
    """Each part's clocks, and the hand-offs, over the steps of a run."""

    def __init__(self) -> None:
        self.parts: dict[int, list[tuple[float, ...]]] = defaultdict(list)
        self.handoffs = 0

    def instrument(self) -> None:
        record, threads_map, beside_start = self, Threads.map, Beside.start

        def timed_map(self: Threads, fn: Any, n: int, *args: Any) -> Any:
            handed = clocks()[0]

            def part(p: int, rows: slice) -> Any:
                start = clocks()
                try:
                    return fn(p, rows)
                finally:
                    spent = (b - a for a, b in zip(start, clocks(), strict=True))
                    record.parts[p].append((start[0] - handed, *spent))

            results = threads_map(self, part, n, *args)
            record.handoffs += len(results) - 1
            return results

        def counted_start(self: Beside, fn: Any, *args: Any) -> Any:
            record.handoffs += self._pool is not None
            return beside_start(self, fn, *args)

        Threads.map, Beside.start = timed_map, counted_start  # type: ignore[method-assign]


def run(batch: int, threads: int, images: int, epochs: int, x: Any, y: Any) -> str:
    net, opt = Network(seed=SEED, device="cpu"), sgd()
    fit(net, (x, y), epochs=1, batch_size=batch, optimizer=opt, threads=threads)  # warm-up
    record.parts.clear()
    record.handoffs = 0
    process, before = time.process_time(), clocks()
    fit(net, (x, y), epochs=epochs, batch_size=batch, optimizer=opt, threads=threads)
    wall, cpu, queued = (b - a for a, b in zip(before, clocks(), strict=True))
    process = time.process_time() - process
    steps, trained = len(record.parts[0]), epochs * images

    def us(seconds: float) -> str:
        return f"{1e6 * seconds / steps:,.0f}"

    cells = [
        f"{batch}",
        f"{trained / wall:,.0f}",
        f"{1e6 * process / trained:,.1f}",
        f"{record.handoffs / steps:.2f}",
        f"{us(wall)} / {us(cpu)} / {us(queued)} / {us(wall - cpu - queued)}",
    ]
    for p in range(threads):
        rows = record.parts.get(p, [])
        if rows:
            start, w, c, q = (sum(r[i] for r in rows) for i in range(4))
            cells.append(f"{us(start)}: {us(w)} / {us(c)} / {us(q)} / {us(w - c - q)}")
        else:
            cells.append("–")
    return "| " + " | ".join(cells) + " |"


record = Record()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 64, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=2000, help="training images per epoch")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per batch size, after one warm-up")
    p.add_argument(
        "--no-spare", action="store_true", help="a batch too small to split lends no work to the idle thread"
    )
    args = p.parse_args()
    if args.no_spare:
        Threads.spare = lambda self, n, min_part=0: INLINE  # type: ignore[method-assign]
    x, y, _ = load(args.images)
    record.instrument()
    parts = " | ".join(f"part {p}: start: wall / CPU / queued / blocked" for p in range(args.threads))
    lent = ", nothing lent to the idle thread" if args.no_spare else ""
    print(f"{args.threads} threads{lent}, µs per step (part 0 on the calling thread; blocked = GIL waits)\n")
    caller = "calling thread: wall / CPU / queued / blocked"
    print(f"| batch | img/s | process CPU µs/img | hand-offs/step | {caller} | {parts} |")
    print("|---" * (5 + args.threads) + "|")
    for batch in args.batch_sizes:
        print(run(batch, args.threads, args.images, args.epochs, x, y), flush=True)


if __name__ == "__main__":
    main()
