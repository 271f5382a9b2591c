"""GPU check: the CuPy engine on a real GPU, in one run of a few minutes.

Not a test (pytest does not collect it). On a machine with an NVIDIA GPU, CuPy, and optionally
PyTorch with CUDA, run from the working tree (no install needed, no GUI packages needed):

    PYTHONPATH=. python tests/benchmarks/gpu_check.py [--out summary.json]

It prints, in order:
1. the GPU, driver, CUDA, CuPy, NumPy (and PyTorch) versions;
2. the engine's test suite on CuPy (`--device gpu`, GUI tests excluded): pass/fail counts and
   how many tests built a network on the GPU;
3. 50 training steps of the default network from the same initial weights on CuPy and on NumPy
   (float32, one host thread, TF32 off): the largest relative difference of the losses and of
   the final parameters, max|a - b| / max|b| per tensor (goal <= 1e-4);
4. training throughput against PyTorch CUDA eager at batch 64, 256 and 1024, alternating, the
   median ratio of at least 3 rounds each; the engine's peak GPU memory; inference at 1024;
5. the default recipe trained from the command line (`python -m engine train --device gpu`):
   its accuracy and wall time;
6. `levers` (stage 2): training throughput per speed lever, each configuration adding one to
   the one before (eager step-by-step reads; reads once per display tick; workspaces kept;
   fused kernels; the step captured as a CUDA graph), alternating with PyTorch at each batch
   size, and each configuration's 50 steps checked against NumPy's. A lever that fails is
   printed and the others still run.
`--device cpu` rehearses the whole script on NumPy (PyTorch on the CPU, if installed), so it can
be checked on a machine without a GPU before the GPU's short time is spent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("CUPY_TF32", "0")  # before CuPy is imported: full float32 matmuls

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cpu import _threadpool_limits, tile, torch_model  # noqa: E402

from engine import SGD, Network, fit, get_backend, load_dataset  # noqa: E402
from engine.backend import Backend  # noqa: E402

LR, MOMENTUM, SEED = 0.03, 0.9, 0


def _sgd() -> SGD:
    """The update PyTorch's side makes: momentum, no weight decay (SGD's default L2 is the recipe's)."""
    return SGD(lr=LR, momentum=MOMENTUM, l2=0.0)


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _torch(device: str) -> Any:
    """PyTorch on `device` with TF32 off, or None when it is not installed or has no CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if device == "gpu" and not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def versions(device: str) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__}
    backend = get_backend(device)
    out["device"] = backend.description
    if backend.name == "gpu":
        cp = backend.xp
        out["cupy"] = cp.__version__
        out["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
        out["cuda_driver"] = cp.cuda.runtime.driverGetVersion()
        out["cupy_tf32"] = os.environ.get("CUPY_TF32")
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, check=False,
        )
        out["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    torch = _torch(device)
    if torch is not None:
        out["torch"] = torch.__version__
        out["torch_cuda"] = torch.version.cuda
    for key, value in out.items():
        print(f"{key:>14}: {value}")
    return out


def _run(cmd: list[str], timeout_s: float, **env: str) -> tuple[str, int | None, float]:
    """A subprocess in the tree's root: its output, exit status (None when it timed out), seconds."""
    started = time.perf_counter()
    try:
        run = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                             capture_output=True, text=True, timeout=timeout_s)
        output, code = run.stdout + run.stderr, run.returncode
    except subprocess.TimeoutExpired as exc:
        so_far = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        output, code = f"{so_far}\nTIMED OUT after {timeout_s:.0f} s", None
    return output, code, time.perf_counter() - started


def test_suite(device: str, timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/gui",
           f"--device={device}", "tests"]
    output, code, seconds = _run(cmd, timeout_s, CONVSCOPE_DEVICE=device)
    failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    last = output.splitlines()[-1] if output else ""
    counts = dict(re.findall(r"(\d+) (passed|failed|errors?|skipped)", last))
    built = re.search(r"(\d+) tests built a network on device", output)
    result = {
        "exit": code,
        "seconds": round(seconds, 1),
        "counts": {v: int(k) for k, v in counts.items()},
        "built_on_device": int(built.group(1)) if built else None,
        "failures": failures[:40],
    }
    print("\n".join(output.splitlines()[-(len(failures) + 6):]))
    print(f"suite: {result['counts']} in {seconds:.0f} s; {result['built_on_device']} tests built a network "
          f"on {device}")
    return result


def agreement(device: str, steps: int = 50, batch: int = 64) -> dict[str, float]:
    """The same `steps` SGD steps, batches in file order, on the device and on NumPy."""
    data = load_dataset()
    x, y = data.train.x[: steps * batch], data.train.y[: steps * batch]
    reference = Network(seed=SEED, device="cpu")
    other = Network(seed=SEED, device=device)
    other.load_state_dict(reference.state_dict())
    losses: dict[str, list[float]] = {"cpu": [], device: []}
    with _threadpool_limits(1):
        for net, key in ((reference, "cpu"), (other, device)):
            opt = _sgd()
            for i in range(steps):
                rows = slice(i * batch, (i + 1) * batch)
                loss, grads = net.loss_and_grads(net.backend.to_device(x[rows]), y[rows], train=True)
                opt.step(net.params, grads)
                losses[key].append(loss)
    a, b = np.array(losses[device]), np.array(losses["cpu"])
    result = {"loss": float(np.abs(a - b).max() / np.abs(b).max())}
    ours, ref = other.state_dict(), reference.state_dict()
    per_tensor = {k: float(np.abs(ours[k] - ref[k]).max() / max(np.abs(ref[k]).max(), 1e-30)) for k in ref}
    result["params"] = max(per_tensor.values())
    result["worst_tensor"] = max(per_tensor, key=per_tensor.get)
    print(f"{steps} steps at batch {batch}, first loss {b[0]:.6f}, last {b[-1]:.6f} (NumPy)")
    met = max(result["loss"], result["params"]) <= 1e-4
    print(f"largest relative difference: losses {result['loss']:.2e}, parameters {result['params']:.2e} "
          f"({result['worst_tensor']}); goal <= 1e-4: {'met' if met else 'MISSED'}")
    return result


class _Engine:
    def __init__(self, device: str | Backend, batch: int, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                 **fit_options: Any):
        self.net = Network(seed=SEED, device=device)
        self.opt = _sgd()
        self.batch, self.x, self.y, self.x_test = batch, x, y, x_test
        self.fit_options = fit_options
        self.notes: list[str] = []

    def sync(self) -> None:
        self.net.backend.synchronize()

    def train(self, epochs: int = 1) -> None:
        history = fit(self.net, (self.x, self.y), epochs=epochs, batch_size=self.batch, optimizer=self.opt,
                      **self.fit_options)
        self.sync()
        self.notes += [note for note in history.notes if note not in self.notes]

    def infer(self) -> None:
        self.net.predict_proba(self.x_test, batch_size=self.batch)
        self.sync()


class _Torch:
    """The usual eager loop: data already on the device, shuffled there, `loss.item()` per batch as
    the engine reads its loss back per batch."""

    def __init__(self, torch: Any, device: str, net: Network, batch: int, x: np.ndarray, y: np.ndarray,
                 x_test: np.ndarray):
        self.torch, self.batch = torch, batch
        self.dev = torch.device("cuda" if device == "gpu" else "cpu")
        self.model = torch_model(net).to(self.dev)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.x = torch.from_numpy(x).to(self.dev)
        self.y = torch.from_numpy(y.astype(np.int64)).to(self.dev)
        self.x_test = torch.from_numpy(x_test).to(self.dev)
        self.gen = torch.Generator(device=self.dev).manual_seed(SEED)

    def sync(self) -> None:
        if self.dev.type == "cuda":
            self.torch.cuda.synchronize()

    def train(self) -> None:
        F = self.torch.nn.functional
        order = self.torch.randperm(len(self.x), device=self.dev, generator=self.gen)
        self.model.train()
        for b in range(0, len(self.x), self.batch):
            idx = order[b : b + self.batch]
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(self.x[idx]), self.y[idx])
            loss.backward()
            self.opt.step()
            loss.item()
        self.sync()

    def infer(self) -> None:
        self.model.eval()
        with self.torch.no_grad():
            for b in range(0, len(self.x_test), self.batch):
                self.torch.softmax(self.model(self.x_test[b : b + self.batch]), dim=1)
        self.sync()


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def throughput(device: str, batches: list[int], rounds: int, n_train: int) -> list[dict[str, Any]]:
    data = load_dataset()
    x, y = tile(data.train.x, data.train.y, n_train)
    x_test = tile(data.test.x, data.test.y, 8192)[0]
    torch = _torch(device)
    rows = []
    for batch in batches:
        ours = _Engine(device, batch, x, y, x_test)
        pool = ours.net.xp.get_default_memory_pool() if ours.net.backend.name == "gpu" else None
        if pool is not None:
            ours.sync()
            pool.free_all_blocks()
        theirs = _Torch(torch, device, ours.net, batch, x, y, x_test) if torch else None
        ours.train()  # warm-up: CuPy compiles its kernels on first use
        row: dict[str, Any] = {"batch": batch, "images": len(x)}
        if pool is not None:
            row["engine_peak_gpu_mib"] = round(pool.total_bytes() / 2**20, 1)
        if theirs:
            theirs.train()
            if device == "gpu":
                row["torch_peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        ratios, ours_rates, their_rates = [], [], []
        for _ in range(rounds):
            t_ours = _timed(ours.train)
            ours_rates.append(len(x) / t_ours)
            if theirs:
                t_theirs = _timed(theirs.train)
                their_rates.append(len(x) / t_theirs)
                ratios.append(t_theirs / t_ours)
        row["engine_train_img_s"] = round(statistics.median(ours_rates))
        if theirs:
            row["torch_train_img_s"] = round(statistics.median(their_rates))
            row["train_ratio_median"] = round(statistics.median(ratios), 3)
            row["train_ratios"] = [round(r, 3) for r in ratios]
        if batch == max(batches):
            ours.infer()
            if theirs:
                theirs.infer()
            inf_ratios, inf_ours = [], []
            for _ in range(rounds):
                t_ours = _timed(ours.infer)
                inf_ours.append(len(x_test) / t_ours)
                if theirs:
                    inf_ratios.append(_timed(theirs.infer) / t_ours)
            row["engine_infer_img_s"] = round(statistics.median(inf_ours))
            if theirs:
                row["infer_ratio_median"] = round(statistics.median(inf_ratios), 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


#: The speed levers, each added to the ones before: stage 1's loop (the data sent to the device
#: each epoch, every batch read back), the data set resident on the device, reads once per
#: display tick, workspaces kept, fused kernels, the step captured as a CUDA graph (timed with
#: and without the fused kernels, so a failing kernel hides no graph).
LEVERS = ("eager", "+resident", "+no-sync", "+prealloc", "+fused", "+graph unfused", "+graph")
#: Which levers share a process: the plain array code together, each custom kernel or graph
#: alone, so a CUDA error that poisons its process hides no other lever.
LEVER_PROCESSES = (
    ("eager", "+resident", "+no-sync", "+prealloc"), ("+fused",), ("+graph unfused",), ("+graph",)
)


def fused_backend(backend: Backend) -> Backend:
    """`backend` with CuPy's fused kernels (ImportError without CuPy)."""
    from engine.gpu import kernels

    return replace(backend, fused=kernels)


def lever_configuration(device: str, name: str) -> tuple[Backend, bool, dict[str, Any]]:
    """Lever configuration `name`: its backend, whether its data stays on the device, and
    fit's options."""
    plain = get_backend(device)
    kept = replace(plain, keeps_workspaces=True)
    # The graph allocates its step's temporaries once, from a pool of its own: workspaces kept
    # across batches of another shape would free memory the graph still writes.
    return {
        "eager": lambda: (plain, False, {"read_every": 1}),
        "+resident": lambda: (plain, True, {"read_every": 1}),
        "+no-sync": lambda: (plain, True, {}),
        "+prealloc": lambda: (kept, True, {}),
        "+fused": lambda: (fused_backend(kept), True, {}),
        "+graph unfused": lambda: (plain, True, {"capture": True}),
        "+graph": lambda: (fused_backend(plain), True, {"capture": True}),
    }[name]()


def _fit_steps(device: str | Backend, x: np.ndarray, y: np.ndarray, batch: int, **options: Any) -> tuple:
    net = Network(seed=SEED, device=device)
    with _threadpool_limits(1):
        history = fit(net, (x, y), epochs=1, batch_size=batch, optimizer=_sgd(),
                      shuffle=False, threads=1, **options)
    return np.array(history.batch_loss), net.state_dict(), history.notes


def _difference(ours: tuple, ref: tuple) -> dict[str, Any]:
    loss = float(np.abs(ours[0] - ref[0]).max() / np.abs(ref[0]).max())
    per_tensor = {k: float(np.abs(ours[1][k] - ref[1][k]).max() / max(np.abs(ref[1][k]).max(), 1e-30))
                  for k in ref[1]}
    worst = max(per_tensor, key=per_tensor.get)
    return {"loss": loss, "params": per_tensor[worst], "worst_tensor": worst,
            "met": max(loss, per_tensor[worst]) <= 1e-4}


def one_lever(device: str, name: str, x: np.ndarray, y: np.ndarray, reference: tuple, batches: list[int],
              rounds: int, torch: Any, steps: int) -> dict[str, Any]:
    """Lever configuration `name`: its `steps` fit steps (file order, batch 64) against NumPy's
    `reference`, then its training throughput at each batch size, alternating with PyTorch."""
    backend, resident, options = lever_configuration(device, name)
    result: dict[str, Any] = {"throughput": []}
    ours = _fit_steps(backend, x[: steps * 64], y[: steps * 64], 64, **options)
    result["agreement"] = {**_difference(ours, reference), "notes": ours[2]}
    if backend.fused is not None and (why := backend.fused.blas_unavailable()):
        result["agreement"]["notes"].append(f"products through CuPy: cuBLAS not called directly ({why})")
    verdict = "met" if result["agreement"]["met"] else "MISSED"
    print(f"{name}: {steps} steps against NumPy (goal <= 1e-4: {verdict}): {json.dumps(result['agreement'])}",
          flush=True)
    for batch in batches:
        engine = _Engine(backend, batch, x, y, x[:1], **options)
        if resident:
            engine.x, engine.y = backend.to_device(x), backend.to_device(y.astype(np.int64))
        model = Network(seed=SEED, device="cpu")
        theirs = _Torch(torch, device, model, batch, x, y, x[:1]) if torch else None
        engine.train()  # warm-up: kernels compiled, the graph captured
        if theirs:
            theirs.train()
        mine, their_rates = [], []
        for _ in range(rounds):
            mine.append(len(x) / _timed(engine.train))
            if theirs:
                their_rates.append(len(x) / _timed(theirs.train))
        row: dict[str, Any] = {"batch": batch, "img_s": round(statistics.median(mine))}
        if their_rates:
            ratios = [a / b for a, b in zip(mine, their_rates, strict=True)]
            row["torch_img_s"] = round(statistics.median(their_rates))
            row["ratio"] = round(statistics.median(ratios), 3)
            row["ratios"] = [round(r, 3) for r in ratios]
        if options.get("capture"):  # each fit captures its step anew; a run of several epochs once
            seconds = _timed(partial(engine.train, rounds))
            row["img_s_one_fit_of_rounds_epochs"] = round(rounds * len(x) / seconds)
        if backend.name == "gpu":
            row["pool_mib"] = round(backend.xp.get_default_memory_pool().total_bytes() / 2**20, 1)
        if engine.notes:
            row["notes"] = engine.notes
        print(f"{name}: {json.dumps(row)}", flush=True)
        result["throughput"].append(row)
    return result


def some_levers(device: str, names: list[str], batches: list[int], rounds: int, n_train: int,
                steps: int = 50) -> dict[str, Any]:
    """The lever configurations `names`, one after another in this process; one that raises is
    printed and the next still runs."""
    data = load_dataset()
    x, y = tile(data.train.x, data.train.y, n_train)
    reference = _fit_steps("cpu", x[: steps * 64], y[: steps * 64], 64)
    torch = _torch(device)
    results = {}
    for name in names:
        try:
            results[name] = one_lever(device, name, x, y, reference, batches, rounds, torch, steps)
        except Exception as exc:
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"{name}: FAILED: {results[name]['error']}", flush=True)
    return results


def levers(device: str, batches: list[int], rounds: int, n_train: int, timeout_s: float,
           only: list[str] | None = None) -> dict[str, Any]:
    """Every lever configuration, in the processes of LEVER_PROCESSES (`--steps lever --lever
    NAME ...`), then a table of them all. `timeout_s` is per configuration: a process of four
    has four times as long. `only` names the configurations to run (default: all)."""
    results: dict[str, Any] = {}
    groups = [[n for n in group if only is None or n in only] for group in LEVER_PROCESSES]
    for names in filter(None, groups):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "lever.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--device", device, "--steps", "lever",
                   "--lever", *names, "--rounds", str(rounds), "--images", str(n_train), "--out", str(out),
                   "--batch-sizes", *map(str, batches)]
            output, code, seconds = _run(cmd, timeout_s * len(names))
            lines = [line for line in output.splitlines() if line.startswith(tuple(f"{n}:" for n in names))]
            print("\n".join(lines) or output[-1500:], flush=True)
            got = json.loads(out.read_text()).get("lever", {}) if out.exists() else {}
            for name in names:
                results[name] = got.get(name, {"error": f"exit {code}: {output[-800:]}"})
            print(f"({', '.join(names)}: exit {code}, {seconds:.0f} s)", flush=True)
    header = "".join(f"{'batch ' + str(b):>20}" for b in batches)
    print(f"\n{'lever':<15}{header}   agreement (img/s, ratio to PyTorch)", flush=True)
    for name, result in results.items():
        cells = {row["batch"]: row for row in result.get("throughput", [])}
        text = "".join(
            f"{c['img_s']:>12,} {c.get('ratio', math.nan):5.2f}x" if (c := cells.get(b)) else f"{'-':>20}"
            for b in batches
        )
        agreement = result.get("agreement", {})
        verdict = ("met" if agreement.get("met") else "MISSED") if agreement else "error"
        print(f"{name:<15}{text}   {verdict}", flush=True)
    return results


def cli_training(device: str, timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "engine", "train", "--device", device]
    output, code, seconds = _run(cmd, timeout_s)
    print("\n".join(output.strip().splitlines()[-8:]))
    accuracies = re.findall(r"(?:test|val)[^\n]*?(\d+(?:\.\d+)?)%", output)
    last = accuracies[-1] if accuracies else None
    result = {"exit": code, "wall_s": round(seconds, 1), "last_accuracy_pct": last}
    print(f"convscope train --device {device}: exit {code}, {seconds:.1f} s wall, "
          f"last accuracy {result['last_accuracy_pct']}%")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--steps", nargs="+",
                        default=["versions", "suite", "agreement", "throughput", "cli", "levers"],
                        help="which steps to run, in this order (default: all)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=16384, help="training images per throughput epoch")
    parser.add_argument("--suite-timeout", type=float, default=200)
    parser.add_argument("--lever", choices=LEVERS, nargs="+", default=["eager"],
                        help="the configurations `--steps lever` runs")
    parser.add_argument("--only", choices=LEVERS, nargs="+", help="the configurations `--steps levers` runs")
    parser.add_argument("--lever-timeout", type=float, default=60,
                        help="seconds for each lever configuration (a process of several gets their sum)")
    parser.add_argument("--out", help="also write the summary as JSON here")
    args = parser.parse_args()
    summary: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "device_asked": args.device}
    steps = {
        "versions": ("Versions", lambda: versions(args.device)),
        "suite": ("Test suite on the device", lambda: test_suite(args.device, args.suite_timeout)),
        "agreement": ("CuPy against NumPy, 50 steps", lambda: agreement(args.device)),
        "throughput": ("Throughput against PyTorch", lambda: throughput(
            args.device, args.batch_sizes, args.rounds, args.images)),
        "cli": ("Default recipe from the command line", lambda: cli_training(args.device, 240)),
        "levers": ("Speed levers against PyTorch", lambda: levers(
            args.device, args.batch_sizes, args.rounds, args.images, args.lever_timeout, args.only)),
        "lever": (f"Levers {', '.join(args.lever)}", lambda: some_levers(
            args.device, args.lever, args.batch_sizes, args.rounds, args.images)),
    }
    for name in args.steps:
        title, run = steps[name]
        section(title)
        started = time.perf_counter()
        try:
            summary[name] = run()
        except Exception as exc:  # one failed step must not hide the others' figures
            summary[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    section("Summary")
    text = json.dumps(summary, indent=1, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
