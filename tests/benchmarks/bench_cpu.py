"""CPU benchmark: this engine against the same network in PyTorch, in one run on one machine.

Not a test (pytest does not collect it): run ``python tests/benchmarks/bench_cpu.py``; see the
README beside it.  Both frameworks train the default network from the same initial weights on
the same batches with SGD + momentum, at the same thread count, and the median of several
repetitions after a warm-up is quoted.  PyTorch is used only when it is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import SGD, Network, fit, load_dataset
from engine.parallel import THREADS_VAR

LR, MOMENTUM, SEED = 0.03, 0.9, 0


def _threadpool_limits(threads: int | None) -> Any:
    """Pin NumPy's BLAS to `threads` (threadpoolctl, when installed); otherwise leave it be."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def blas_info() -> dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"blas": "unknown (install threadpoolctl)", "threads": None}
    for lib in threadpool_info():
        if lib["user_api"] == "blas":
            return {
                "blas": f"{lib['internal_api']} {lib['version']} ({lib.get('architecture')} kernel)",
                "threads": lib["num_threads"],
            }
    return {"blas": "none found", "threads": None}


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load(n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = load_dataset()
    x, y = data.train
    return tile(x, y, n_train) + (data.test.x,)


def tile(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images from the built-in set; beyond its size, copies shifted by a pixel or two, so a
    large synthetic set is not the same few thousand images bit for bit."""
    reps = math.ceil(n / len(x))
    rng = np.random.default_rng(SEED)
    parts = [x]
    for _ in range(1, reps):
        dy, dx = rng.integers(-2, 3, size=2)
        parts.append(np.roll(x, (int(dy), int(dx)), axis=(2, 3)))
    return np.ascontiguousarray(np.concatenate(parts)[:n]), np.tile(y, reps)[:n]


#: What a repetition is timed with: the wall clock, or with --clock cpu the process's CPU time
#: (every thread's), which the other programs on a busy machine inflate far less. Only one
#: thread each makes CPU times comparable: two of PyTorch's OpenMP threads spin while they wait.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
now = CLOCKS["wall"]


def timings(runs: dict[str, Any], reps: int) -> dict[str, list[float]]:
    """Seconds per repetition of each run, each run's repetitions in one block after its own
    warm-up (first-touch allocations, thread start, caches). Not interleaved: PyTorch's OpenMP
    threads and OpenBLAS's spin for a while after each call, and on two cores that steals
    from whichever framework runs next."""
    times: dict[str, list[float]] = {}
    for name, run in runs.items():
        run()
        times[name] = []
        for _ in range(reps):
            t = now()
            run()
            times[name].append(now() - t)
    return times


def rates(runs: dict[str, Any], images: int, reps: int, prefix: str) -> dict[str, float]:
    """Median images/s of each run, and ours/torch of the medians."""
    times = timings(runs, reps)
    out = {f"{name}_{prefix}": images / statistics.median(t) for name, t in times.items()}
    if "torch" in times:
        out[f"ratio_{prefix}"] = out[f"ours_{prefix}"] / out[f"torch_{prefix}"]
    return out


# -- this engine -----------------------------------------------------------------------------


def sgd() -> SGD:
    """The engine's SGD doing what PyTorch's below does: no L2 weight decay (the engine's
    default, 1e-4, would add work that the PyTorch side does not do)."""
    return SGD(lr=LR, momentum=MOMENTUM, l2=0.0)


def ours(batch: int, x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> tuple[Network, Any, Any]:
    net = Network(seed=SEED, device="cpu")
    opt = sgd()

    def train() -> None:
        fit(net, (x, y), epochs=1, batch_size=batch, optimizer=opt)

    def infer() -> None:
        net.predict_proba(x_test, batch_size=batch)

    return net, train, infer


# -- PyTorch ---------------------------------------------------------------------------------


def torch_model(net: Network) -> Any:
    """The engine's default network as a `torch.nn.Sequential`, with the engine's weights."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 40, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(640, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
    where = {"0": "0", "2": "3", "4": "7", "5": "9"}  # spec layer index -> Sequential index
    state = {}
    for key, value in net.state_dict().items():
        _, i, kind = key.split(".")
        state[f"{where[i]}.{kind}"] = torch.from_numpy(value)
    model.load_state_dict(state)
    return model


def theirs(net: Network, batch: int, x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> tuple[Any, Any]:
    import torch
    import torch.nn.functional as F

    model = torch_model(net)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    xt_test = torch.from_numpy(x_test)
    epoch = [0]

    def train() -> None:
        # The engine's own shuffle, so both see the same batches.
        order = torch.from_numpy(np.random.default_rng([SEED, epoch[0]]).permutation(len(x)))
        epoch[0] += 1
        model.train()
        for b in range(0, len(x), batch):
            idx = order[b : b + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()

    def infer() -> None:
        model.eval()
        with torch.no_grad():
            for b in range(0, len(xt_test), batch):
                torch.softmax(model(xt_test[b : b + batch]), dim=1).numpy()

    return train, infer


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# -- peak memory, each case in a fresh process -----------------------------------------------


def _status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process; unlike ru_maxrss, the peak starts afresh at
    exec, so the parent's own footprint does not leak into a child's figure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(framework: str, batch: int, n_train: int, threads: int) -> None:
    os.environ[THREADS_VAR] = str(threads)
    with _threadpool_limits(threads):
        x, y, x_test = load(n_train)
        code_mib = 0.0
        if framework == "ours":
            # Numba and the compiled kernels are code, loaded once a process, as torch's libraries
            # are by its import before the reading: they are loaded first (16 images, split as a
            # batch is), and their footprint is reported beside the epoch's growth.
            start = _status_mib("VmRSS")
            _, warm_train, warm_infer = ours(16, x[:16], y[:16], x_test[:16])
            warm_train()
            warm_infer()
            code_mib = _status_mib("VmRSS") - start
        net, train, infer = ours(batch, x, y, x_test)
        if framework == "torch":
            import torch

            torch.set_num_threads(threads)
            train, infer = theirs(net, batch, x, y, x_test)
        before = _status_mib("VmRSS")
        train()
        infer()
        peak = _status_mib("VmHWM")
        print(json.dumps({"peak_mib": peak, "growth_mib": peak - before, "code_mib": code_mib}))


def memory(framework: str, batch: int, n_train: int, threads: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--memory-child", framework, str(batch), str(n_train), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


# -- the runs --------------------------------------------------------------------------------


def throughput(args: argparse.Namespace, threads: int, torch_ok: bool) -> list[dict[str, Any]]:
    x, y, x_test = load(args.images)
    x_test = x_test[: args.test_images]
    rows = []
    for batch in args.batch_sizes:
        net, train, infer = ours(batch, x, y, x_test)
        train_runs, infer_runs = {"ours": train}, {"ours": infer}
        if torch_ok:
            train_runs["torch"], infer_runs["torch"] = theirs(net, batch, x, y, x_test)
        row: dict[str, Any] = {"batch": batch}
        row.update(rates(train_runs, len(x), args.reps, "train"))
        row.update(rates(infer_runs, len(x_test), args.reps, "infer"))
        if args.memory:
            row["ours_mem"] = memory("ours", batch, args.images, threads)
            if torch_ok:
                row["torch_mem"] = memory("torch", batch, args.images, threads)
        rows.append(row)
        print_row(row, torch_ok)
    return rows


def print_row(row: dict[str, Any], torch_ok: bool) -> None:
    def ratio(kind: str) -> str:
        return f"{row[f'ratio_{kind}']:.2f}x" if torch_ok else "-"

    def mem(key: str) -> str:
        m = row.get(key)
        if not m:
            return "-"
        code = f", code +{m['code_mib']:.0f}" if m.get("code_mib") else ""
        return f"{m['peak_mib']:.0f} (+{m['growth_mib']:.0f}{code})"

    torch_train = f"{row['torch_train']:.0f}" if torch_ok else "-"
    torch_infer = f"{row['torch_infer']:.0f}" if torch_ok else "-"
    print(
        f"| {row['batch']} | {row['ours_train']:.0f} | {torch_train} | {ratio('train')} "
        f"| {row['ours_infer']:.0f} | {torch_infer} | {ratio('infer')} "
        f"| {mem('ours_mem')} | {mem('torch_mem')} |",
        flush=True,
    )


def scaling(args: argparse.Namespace) -> None:
    x0, y0, _ = load(4000)
    print(f"\nSeconds per epoch against training images (batch {args.scaling_batch}, median of {args.reps}):")
    print("| images | s/epoch | images/s | µs per image |")
    print("|---|---|---|---|")
    for n in args.scaling:
        x, y = tile(x0, y0, n)
        net = Network(seed=SEED, device="cpu")
        opt = sgd()
        reps = args.reps if n <= 4000 else max(1, args.reps // 2)
        run = {"ours": lambda: fit(net, (x, y), epochs=1, batch_size=args.scaling_batch, optimizer=opt)}  # noqa: B023
        rate = rates(run, n, reps, "train")["ours_train"]
        print(f"| {n} | {n / rate:.2f} | {rate:.0f} | {1e6 / rate:.0f} |", flush=True)


class _Clock:
    """Seconds spent per label, for the profile. Parts ("layer: part") count exclusive time, so
    the GEMM inside col2im is counted as GEMM, not twice."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._parts: list[str] = []

    def wrap(self, label: str, fn: Any) -> Any:
        part = ":" in label

        def timed(*args: Any, **kwargs: Any) -> Any:
            if part:
                self._parts.append(label)
            t = now()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = now() - t
                self.spent[label] = self.spent.get(label, 0.0) + dt
                if part:
                    self._parts.pop()
                    if self._parts:
                        parent = self._parts[-1]
                        self.spent[parent] = self.spent.get(parent, 0.0) - dt

        return timed


class _TimedXP:
    """The layer's array module with its GEMMs (`matmul`) timed."""

    def __init__(self, xp: Any, clock: _Clock, label: str):
        self._xp, self.matmul = xp, clock.wrap(label, xp.matmul)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._xp, name)


def profile(args: argparse.Namespace) -> None:
    """Where a training step's time goes: each layer's forward and backward, and inside the
    convolutions im2col, GEMM and col2im (its GEMM counted as GEMM). On one thread, so the clocks
    of the parts of a split batch do not add up to more than the wall time."""
    x, y, _ = load(args.images)
    for batch in args.batch_sizes:
        net = Network(seed=SEED, device="cpu")
        clock = _Clock()
        for layer in net.layers:
            tag = f"{layer.info.index} {layer.info.type}"
            layer.forward = clock.wrap(f"{tag} forward", layer.forward)
            layer.backward = clock.wrap(f"{tag} backward", layer.backward)
            if layer.info.type == "conv":
                layer.xp = _TimedXP(layer.xp, clock, f"{tag}: GEMM")
                layer._im2col = clock.wrap(f"{tag}: im2col", layer._im2col)
                layer._col2im = clock.wrap(f"{tag}: col2im", layer._col2im)
        opt = sgd()
        fit(net, (x, y), epochs=1, batch_size=batch, optimizer=opt, threads=1)
        clock.spent.clear()
        t = now()
        for _ in range(args.reps):
            fit(net, (x, y), epochs=1, batch_size=batch, optimizer=opt, threads=1)
        total = now() - t
        steps = args.reps * math.ceil(len(x) / batch)
        ms = {k: 1e3 * v / steps for k, v in clock.spent.items()}
        step = 1e3 * total / steps
        print(f"\nProfile of a training step at batch {batch}: {step:.2f} ms per step ({steps} steps)")
        print("| layer | forward ms | backward ms | share |")
        print("|---|---|---|---|")
        in_layers = 0.0
        for layer in net.layers:
            tag = f"{layer.info.index} {layer.info.type}"
            f, b = ms.get(f"{tag} forward", 0.0), ms.get(f"{tag} backward", 0.0)
            in_layers += f + b
            print(f"| {tag} | {f:.3f} | {b:.3f} | {100 * (f + b) / step:.0f}% |")
        print(f"| loss, health check, optimizer, loop | | | {100 * (step - in_layers) / step:.0f}% |")
        print("\n| conv layer | im2col ms | GEMM ms (fwd + bwd) | col2im ms | bias, activation, rest ms |")
        print("|---|---|---|---|---|")
        for layer in net.layers:
            if layer.info.type != "conv":
                continue
            tag = f"{layer.info.index} conv"
            parts = [ms.get(f"{tag}: {p}", 0.0) for p in ("im2col", "GEMM", "col2im")]
            rest = ms.get(f"{tag} forward", 0.0) + ms.get(f"{tag} backward", 0.0) - sum(parts)
            print(f"| {tag} | " + " | ".join(f"{v:.3f}" for v in parts) + f" | {rest:.3f} |")


def header(threads: int, torch_ok: bool) -> None:
    info = blas_info()
    print(f"date: {datetime.date.today()}  machine: {cpu_model()}, {os.cpu_count()} logical CPUs")
    print("load average before the run: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"python {platform.python_version()}  numpy {np.__version__}")
    print(f"BLAS {info['blas']}, threads {threads}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if var in os.environ:
            print(f"  {var}={os.environ[var]}")
    if torch_ok:
        import torch

        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    else:
        print("torch not installed: engine figures only")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        framework, batch, n_train, threads = sys.argv[2:6]
        memory_child(framework, int(batch), int(n_train), int(threads))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 64, 256])
    p.add_argument("--images", type=int, default=2000, help="training images per repetition")
    p.add_argument("--test-images", type=int, default=1000, help="images per inference repetition")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: BLAS's)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-memory", dest="memory", action="store_false")
    p.add_argument("--scaling", type=int, nargs="*", default=[], help="e.g. 1000 2000 4000 60000")
    p.add_argument("--scaling-batch", type=int, default=64)
    p.add_argument("--profile", action="store_true", help="per-layer profile instead of the comparison")
    p.add_argument("--clock", choices=CLOCKS, default="wall", help="cpu: images per CPU second (--threads 1)")
    args = p.parse_args()
    global now
    now = CLOCKS[args.clock]
    torch_ok = not args.no_torch and have_torch()
    threads = args.threads or blas_info()["threads"] or os.cpu_count() or 1
    os.environ[THREADS_VAR] = str(threads)  # Network.fit pins BLAS to this count itself
    with _threadpool_limits(threads):
        if torch_ok:
            import torch

            torch.set_num_threads(threads)
        header(threads, torch_ok)
        if args.clock == "cpu":
            print("timed in process CPU time: images per CPU second, not per wall second")
        if args.profile:
            profile(args)
            return
        print(
            "\n| batch | ours train img/s | torch train img/s | ratio | ours infer img/s "
            "| torch infer img/s | ratio | ours peak MiB (+growth) | torch peak MiB (+growth) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        throughput(args, threads, torch_ok)
        if args.scaling:
            scaling(args)


if __name__ == "__main__":
    main()
