"""The headless command line: `convscope train`, `evaluate`, `summary` and `export`.

Every failure a user can cause (a bad spec, data or weight file, a missing GPU, a diverging run,
a bad argument) ends in one line on stderr and a non-zero exit status, never a traceback.
The defaults of `train` are the recipe the test suite checks: the default network reaches ≥ 97%
test accuracy on the built-in mnist-5k within those epochs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm import tqdm

from engine import evaluation
from engine.atomic_file import write_atomic
from engine.augment import Augment
from engine.augment import setting_problem as augment_problem
from engine.backend import DEVICES, ENV_VAR, NUMPY, get_backend, gpu_unavailable_reason
from engine.data import BUILTIN, LAYOUTS, Dataset, Split, load_dataset, with_normalization
from engine.errors import ConvScopeError, LimitError, OutputPathError
from engine.export import export
from engine.image_folder import COLOURS
from engine.init import INITS
from engine.limits import ENV_VARS, Limits, configure, estimate, format_bytes, parse_size
from engine.network import Network
from engine.optim import LEARNING_RATES, Optimizer, setting_problem
from engine.output_path import check_output_path
from engine.recipe import DEFAULT_RECIPE, Recipe
from engine.runs import ENV_VAR as RUNS_ENV_VAR
from engine.runs import SUMMARY_COLUMNS, default_folder, load_runs, summary_row
from engine.spec import default_spec, default_spec_for, load_spec, normalize, shape_text, summary
from engine.training import SCHEDULES, BatchInfo, Callback, EpochInfo, check_fits, fit
from engine.weights import load, load_with_optimizer, save
from engine.wording import plural


class UsageError(ConvScopeError):
    """A bad command line; reported as one line like every other error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit(2)
        raise UsageError(message)


def _parsed(kind: Callable[[str], Any], problem: Callable[[Any], str | None]) -> Callable[[str], Any]:
    """An argparse type that says what it wants, instead of a bare 'invalid value'."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if reason := problem(value):
            raise argparse.ArgumentTypeError(reason)
        return value

    return parse


def _count() -> Callable[[str], int]:
    """A whole number ≥ 1."""
    return _parsed(int, lambda n: None if n >= 1 else f"{n} must be ≥ 1")


def _setting(name: str) -> Callable[[str], float]:
    """An optimizer setting, held to the optimizers' own rule."""
    return _parsed(float, lambda value: setting_problem(name, value))


_LAYOUT_HELP = "how .npz images are stored: nchw, nhwc, or auto (default: told from the shape)"


def _image_size(text: str) -> tuple[int, int]:
    """HxW (or one number for a square), as --image-size takes it."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) > 2 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 28x28 (height x width)")
    height, width = (int(parts[0]), int(parts[-1]))
    return height, width


def _image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image-size", type=_image_size, metavar="HxW",
        help="image folders: resize every image to this (default: the most common size)",
    )
    parser.add_argument(
        "--colour", choices=COLOURS, default="auto",
        help="image folders: grey or rgb (default: told from the files)",
    )


def _size(text: str) -> int:
    """An argparse type for the memory limits, in engine.limits' words."""
    try:
        return parse_size(text)
    except LimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convscope", description="Train and inspect small convolutional networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,summary,export,runs}")
    d = DEFAULT_RECIPE
    rates = ", ".join(f"{kind} {lr:g}" for kind, lr in LEARNING_RATES.items())
    # Memory limits (engine/limits.py), on every command since each reads specs or files.
    limits = _Parser(add_help=False)
    defaults = Limits()
    for name, flag, what, shown in (
        ("max_params", "--max-params", "parameters in a network", f"{defaults.max_params:,}"),
        ("max_activation_bytes", "--max-activations", "activations of one batch",
         format_bytes(defaults.max_activation_bytes)),
        ("max_data_bytes", "--max-data", "a data set in memory", format_bytes(defaults.max_data_bytes)),
    ):
        limits.add_argument(
            flag, dest=name, metavar="N" if name == "max_params" else "SIZE", type=_size,
            help=f"limit on {what}; default ${ENV_VARS[name]} or {shown}",
        )

    train = sub.add_parser(
        "train", parents=[limits], help="train a network (defaults: the ≥97%% mnist-5k recipe)"
    )
    train.add_argument("--spec", help="network spec JSON (default: the built-in conv-pool network)")
    train.add_argument("--data", default=BUILTIN, help=f"{BUILTIN}, an IDX folder or an .npz file")
    train.add_argument("--layout", choices=LAYOUTS, default="auto", help=_LAYOUT_HELP)
    _image_options(train)
    train.add_argument("--epochs", type=_count(), default=d.epochs, help=f"default {d.epochs}")
    train.add_argument("--batch-size", type=_count(), default=d.batch_size)
    train.add_argument("--optimizer", choices=("sgd", "adam"), help=f"default {d.optimizer}")
    train.add_argument("--lr", type=_setting("lr"), help=f"default {rates}")
    train.add_argument("--momentum", type=_setting("momentum"), help=f"SGD only, default {d.momentum}")
    train.add_argument("--l2", type=_setting("l2"), help=f"L2 weight decay λ, default {d.l2:g}")
    train.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    train.add_argument("--seed", type=int, help=f"default {d.seed}")
    train.add_argument("--init", choices=INITS, default=d.init, help=f"default {d.init}")
    train.add_argument("--normalize", action="store_true", help="standardise each channel")
    shift = _parsed(int, lambda v: augment_problem("shift", v))
    train.add_argument("--shift", type=shift, default=0, help="augment: move each image up to K pixels")
    train.add_argument("--flip", action="store_true", help="augment: flip half the images left-right")
    rotate = _parsed(float, lambda v: augment_problem("rotate", v))
    train.add_argument("--rotate", type=rotate, default=0.0, help="augment: turn each image up to X degrees")
    train.add_argument(
        "--expand", action="store_true",
        help="network3's expanded set: each training image also moved 1 pixel up, down, left, right",
    )
    train.add_argument("--limit", type=_count(), help="train on the first N images only")
    train.add_argument("--device", choices=DEVICES, help="default $CONVSCOPE_DEVICE or auto")
    train.add_argument(
        "--threads", type=_count(), help="CPU threads, default $CONVSCOPE_THREADS or one per core"
    )
    train.add_argument(
        "--save",
        metavar="PATH",
        help="write the network to a .safetensors file after every epoch (Ctrl-C keeps the last one)",
    )
    train.add_argument("--resume", metavar="PATH", help="continue training a saved network exactly")
    train.add_argument("--verbose", action="store_true", help="say why no GPU is used")

    evaluate = sub.add_parser(
        "evaluate", parents=[limits], help="accuracy, loss, per-class metrics and confusion matrix"
    )
    evaluate.add_argument("model", help="a .safetensors weight file")
    evaluate.add_argument("--data", default=BUILTIN, help="data set whose test split is evaluated")
    evaluate.add_argument("--layout", choices=LAYOUTS, default="auto", help=_LAYOUT_HELP)
    _image_options(evaluate)
    evaluate.add_argument("--device", choices=DEVICES)
    evaluate.add_argument("--csv", metavar="PATH", help="also write the confusion matrix as CSV")
    evaluate.add_argument("--verbose", action="store_true", help="say why no GPU is used")

    summ = sub.add_parser("summary", parents=[limits], help="layers, output shapes and parameter counts")
    summ.add_argument("--spec", help="network spec JSON (default: the built-in network)")

    exp = sub.add_parser(
        "export", parents=[limits], help="write a trained network as ONNX and/or PyTorch source"
    )
    exp.add_argument("model", help="a .safetensors weight file")
    exp.add_argument("--onnx", metavar="PATH", help="write an ONNX model (needs convscope[export])")
    exp.add_argument("--torch", metavar="PATH", help="write a torch.nn.Module source file with a load()")

    runs = sub.add_parser("runs", parents=[limits], help="list the training runs the window kept")
    runs.add_argument(
        "--folder", metavar="PATH", help=f"the runs folder (default: ${RUNS_ENV_VAR} or {default_folder()})"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run one command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        configure(**{name: getattr(args, name) for name in ENV_VARS})
        commands = {"train": train, "evaluate": evaluate, "summary": show_summary, "export": export_model,
                    "runs": list_runs}
        return commands[args.command](args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("convscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `convscope evaluate m.safetensors | head`: the reader left early
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UsageError as exc:
        _error(f"{exc} (see convscope --help)")
        return 2
    except (ConvScopeError, ValueError, OSError) as exc:
        _error(str(exc))
        return 1
    except MemoryError:  # beyond what engine.limits foresaw: the machine has less than the limits
        _error("ran out of memory; lower the memory limits (see convscope --help) or free some memory")
        return 1


def _error(message: str) -> None:
    print(f"convscope: error: {' '.join(message.split())}", file=sys.stderr)


# -- train -------------------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar per epoch (loss, running accuracy, images/s, ETA) and a line per epoch."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_batch_end(self, info: BatchInfo) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=info.batches,
                desc=f"epoch {info.epoch}/{info.epochs}",
                unit="batch",
                leave=False,
                disable=None,  # no bar when stderr is not a terminal (logs, pipes, tests)
            )
        self.bar.set_postfix_str(
            f"loss {info.loss:.4f}, acc {info.train_acc:.1%}, {info.images_per_s:,.0f} img/s", refresh=False
        )
        self.bar.update(1)

    def on_epoch_end(self, info: EpochInfo) -> None:
        self._close()
        val = ""
        if info.val_loss is not None:
            val = f"  val loss {info.val_loss:.4f} acc {info.val_acc:.2%}"
        print(
            f"epoch {info.epoch}/{info.epochs}  train loss {info.train_loss:.4f} acc {info.train_acc:.2%}"
            f"{val}  {info.seconds:.1f} s  {info.images_per_s:,.0f} images/s",
            flush=True,
        )

    def on_train_end(self, history: Any) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _pick_device(device: str | None, verbose: bool = False):
    """The backend asked for, said in one line; why there is no GPU only when asked (--verbose),
    since a GPU asked for explicitly and missing is an error that says why."""
    backend = get_backend(device)
    requested = (device or os.environ.get(ENV_VAR) or "auto").lower()
    reason = gpu_unavailable_reason() if backend is NUMPY and requested == "auto" else None
    note = ""
    if reason is not None:
        note = ", picked by auto: no usable GPU" + ("" if verbose else " (--verbose says why)")
    print(f"device: {backend.description}{note}", flush=True)
    if reason is not None and verbose:
        print(f"no GPU because: {reason}", flush=True)
    return backend


def _optimizer(args: argparse.Namespace, saved: Optimizer | None) -> Optimizer:
    """The file's optimizer when resuming (explicit options override its settings), else a new one."""
    kind = args.optimizer or (saved.name if saved is not None else DEFAULT_RECIPE.optimizer)
    if kind == "adam" and args.momentum is not None:
        raise UsageError("--momentum applies to sgd only")
    keys = ("lr", "momentum", "l2")
    kept = saved.config() if saved is not None and saved.name == kind else {}
    settings = {k: kept[k] for k in keys if k in kept}
    settings.update({k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    return Recipe(optimizer=kind, **settings).make_optimizer(saved)


class SaveEachEpoch(Callback):
    """Writes the network to `path` at the end of every epoch, so Ctrl-C or a crash leaves the
    last finished epoch there, resumable exactly with --resume."""

    def __init__(self, path: str, optimizer: Optimizer, data: Dataset):
        self.path, self.optimizer, self.data = path, optimizer, data
        self.net: Network | None = None
        self.saved_epoch: int | None = None

    def on_train_begin(self, net: Network, epochs: int, batches: int) -> None:
        self.net = net

    def on_epoch_end(self, info: EpochInfo) -> None:
        with _ctrl_c_deferred():  # the file and the epoch said to be in it never disagree
            save(self.net, self.path, optimizer=self.optimizer, dataset=self.data)
            self.saved_epoch = info.epoch


@contextlib.contextmanager
def _ctrl_c_deferred():
    """Ctrl-C during the block raises KeyboardInterrupt once the block has ended."""
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _load_data(args: argparse.Namespace, **options: Any) -> Dataset:
    """The data set `--data` names, read as `--layout` says; what loading decided is printed."""
    with tqdm(desc="loading images", unit="image", leave=False, disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        data = load_dataset(
            args.data, layout=args.layout, image_size=args.image_size, colour=args.colour,
            progress=progress, **options,
        )
    for note in data.notes:
        print(f"note: {note}", flush=True)
    return data


def train(args: argparse.Namespace) -> int:
    if args.save:  # before anything slow: a run must not end in a write bound to fail
        check_output_path(args.save)
    saver: SaveEachEpoch | None = None
    try:
        net, data, optimizer = _prepare(args)
        if args.save:  # first, so an epoch's line is printed once it is saved
            saver = SaveEachEpoch(args.save, optimizer, data)
        callbacks = [c for c in (saver, ProgressBar()) if c is not None]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as TrainingDiverged
            history = fit(
                net,
                data.train,
                epochs=args.epochs,
                batch_size=args.batch_size,
                optimizer=optimizer,
                validation=data.test,
                callbacks=callbacks,
                schedule=args.schedule,
                threads=args.threads,
                augment=_augment(args),
            )
        for note in history.notes:
            print(f"note: {note}", flush=True)
    except KeyboardInterrupt:
        print(f"convscope: interrupted{_kept(args.save, saver)}", file=sys.stderr)
        return 130
    if args.save:
        print(f"saved {args.save}", flush=True)
    return 0


def _kept(path: str | None, saver: SaveEachEpoch | None) -> str:
    """What the --save file holds after an interrupted run, said after 'interrupted'."""
    if path is None:
        return ""
    if saver is None or saver.saved_epoch is None:
        return f"; nothing was saved to {path}"
    return f"; {path} holds the network after epoch {saver.saved_epoch} (--resume {path} goes on from there)"


def _augment(args: argparse.Namespace) -> Augment:
    return Augment(args.shift, args.flip, args.rotate, args.expand)


def _prepare(args: argparse.Namespace) -> tuple[Network, Dataset, Optimizer]:
    """The network, data and optimizer `train` asked for, described in a few lines."""
    backend = _pick_device(args.device, args.verbose)
    seed = DEFAULT_RECIPE.seed if args.seed is None else args.seed
    saved_opt = None
    if args.resume:
        if args.spec or args.normalize:
            raise UsageError("--resume takes the network and its normalisation from the weight file")
        net, saved_opt = load_with_optimizer(args.resume, device=backend)
        if args.seed is not None and args.seed != net.seed:
            raise UsageError(f"--seed {args.seed} differs from the resumed network's seed {net.seed}")
        recorded = net.metadata.get("dataset") or {}
        data = with_normalization(
            _load_data(args, seed=net.seed, limit=args.limit), recorded.get("normalization")
        )
        print(f"resuming {args.resume} after {plural(net.metadata.get('epochs', 0), 'epoch')}", flush=True)
    else:
        data = _load_data(args, normalize=args.normalize, seed=seed, limit=args.limit)
        if args.spec:
            spec = load_spec(args.spec)
        else:
            spec = default_spec_for(data.input_shape, data.classes)
            if len(spec["layers"]) == 1:
                print(
                    f"note: the default network's layers do not fit {shape_text(data.input_shape)} "
                    "images, so it is the output layer alone (--spec net.json chooses another)",
                    flush=True,
                )
        with _naming(args.spec):
            net = Network(normalize(spec), seed=seed, device=backend, init=args.init)
    check_fits(net, data)
    data = replace(data, train=Split(*_augment(args).training_images(*data.train)))
    optimizer = _optimizer(args, saved_opt)
    params = sum(int(np.prod(s)) for s in net.param_shapes().values())
    print(
        f"data: {data.name}, {len(data.train.x):,} training and {len(data.test.x):,} test images, "
        f"{plural(data.classes, 'class')}",
        flush=True,
    )
    settings = ", ".join(f"{k} {v:g}" for k, v in optimizer.config().items() if k != "name")
    print(
        f"network: {plural(len(net.layers), 'layer')}, {plural(params, 'parameter')}; "
        f"{optimizer.name} ({settings}), "
        f"batch {args.batch_size}, {plural(args.epochs, 'epoch')}, {args.schedule} schedule, "
        f"seed {net.seed}",
        flush=True,
    )
    return net, data, optimizer


# -- evaluate ----------------------------------------------------------------------------------


def evaluate(args: argparse.Namespace) -> int:
    if args.csv:  # before the data is read and the test split predicted
        check_output_path(args.csv)
    backend = _pick_device(args.device, args.verbose)
    net = load(args.model, device=backend)
    recorded = net.metadata.get("dataset") or {}
    data = with_normalization(_load_data(args, seed=net.seed), recorded.get("normalization"))
    check_fits(net, data)
    result = evaluation.evaluate(net, data)  # one forward pass: loss, accuracy, confusion matrix
    names = evaluation.class_names(recorded.get("class_names") or data.class_names, net.classes)
    counts = result.counts

    trained = f"trained {plural(net.metadata.get('epochs', 0), 'epoch')}"
    if recorded.get("name"):
        trained += f" on {recorded['name']}"
    print(f"model: {args.model} ({trained})")
    print(f"data: {data.name} test split, {plural(len(result.y), 'image')}")
    print("\n".join(evaluation.summary_lines(result, names)))
    if result.classes <= evaluation.MAX_SHOWN_CLASSES:
        print("confusion matrix (rows: true class, columns: predicted):")
        print(evaluation.confusion_text(counts, names))
    elif not args.csv:
        print(evaluation.matrix_not_shown(result.classes))
    if args.csv:
        try:
            write_atomic(args.csv, evaluation.confusion_csv(counts, names).encode())
        except OSError as exc:
            raise OutputPathError(f"{args.csv}: cannot write the CSV file ({exc.strerror or exc})") from None
        print(f"wrote {args.csv}")
    return 0


@contextlib.contextmanager
def _naming(spec_path: str | None) -> Iterator[None]:
    """A network beyond the memory limits, named by the spec file it came from."""
    try:
        yield
    except LimitError as exc:
        if spec_path is None:
            raise
        raise LimitError(f"{spec_path}: {exc}") from None


def show_summary(args: argparse.Namespace) -> int:
    """The table, and the network's memory, once that is known to be within the limits."""
    spec = load_spec(args.spec) if args.spec else default_spec()
    memory = estimate(spec)
    with _naming(args.spec):
        memory.check()
    print(summary(spec))
    print(f"memory: {memory.describe()}")
    return 0


def export_model(args: argparse.Namespace) -> int:
    if args.onnx is None and args.torch is None:
        raise UsageError("export needs --onnx PATH, --torch PATH or both")
    export(args.model, onnx=args.onnx, torch=args.torch)
    for path in (args.onnx, args.torch):
        if path is not None:
            print(f"wrote {path}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    """A line per stored run, oldest first; a damaged run folder is a note on stderr."""
    folder = args.folder or default_folder()
    runs, skipped = load_runs(folder)
    for message in skipped:
        print(f"note: {message}", file=sys.stderr)
    if not runs:
        print(f"no runs in {folder}")
        return 0
    print(f"{plural(len(runs), 'run')} in {folder}:")
    rows = [(*SUMMARY_COLUMNS, "folder")]
    rows += [(*summary_row(run), run.folder.name) for run in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:  # text columns to the left, figures to the right
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.rjust(w) if 3 <= i <= 5 else c.ljust(w) for i, (c, w) in pairs]
        print("  " + "  ".join(cells).rstrip())
    return 0
