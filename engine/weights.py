"""Weight files: `.safetensors` tensors plus JSON metadata in the header, never pickle.

A file holds the parameters (``layers.{i}.weight`` / ``.bias``, PyTorch layouts), optionally the
optimizer's state under ``optimizer.``, and in its header the spec, init, seed, dtype, the data
set's name, input shape, class names and normalisation, the training metadata (epochs, metrics)
and the optimizer's config and step count, so training can resume exactly and `evaluate` can
prepare data the way training did. Loading checks all of it, because a weight file is user input.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError, safe_open

from engine.backend import Backend
from engine.data import Dataset
from engine.errors import SpecError, WeightFileError
from engine.init import INITS
from engine.network import Network, tensor_problems
from engine.optim import Optimizer, make_optimizer
from engine.spec import normalize

FORMAT = "convscope"
VERSION = 1
OPTIMIZER_PREFIX = "optimizer."


def dataset_info(dataset: Dataset) -> dict[str, Any]:
    """What a weight file records about the data, so evaluation prepares inputs the same way."""
    return {
        "name": dataset.name,
        "input_shape": list(dataset.input_shape),
        "class_names": list(dataset.class_names),
        "normalization": None if dataset.normalization is None else [list(v) for v in dataset.normalization],
    }


def save(
    net: Network,
    path: str | os.PathLike[str],
    optimizer: Optimizer | None = None,
    dataset: Dataset | None = None,
) -> None:
    """Write `net` (and `optimizer`'s state, for exact resume) atomically to `path`.

    The file is written beside `path` and renamed over it, so a crash mid-save leaves the
    previous file whole.
    """
    tensors = {k: np.ascontiguousarray(v) for k, v in net.state_dict().items()}
    training = dict(net.metadata)
    if dataset is not None:
        training["dataset"] = dataset_info(dataset)
    header = {
        "format": FORMAT,
        "format_version": str(VERSION),
        "spec": json.dumps(net.spec),
        "network": json.dumps({"init": net.init, "seed": net.seed, "dtype": net.dtype.name}),
        "training": json.dumps(training),
    }
    if optimizer is not None:
        for k, v in optimizer.state_dict(net.backend).items():
            tensors[OPTIMIZER_PREFIX + k] = np.ascontiguousarray(v)
        header["optimizer"] = json.dumps({"config": optimizer.config(), "steps": optimizer.steps})
    data = safetensors.numpy.save(tensors, metadata=header)
    try:
        _write_atomic(Path(path), data)
    except OSError as exc:  # it names the temporary file; the user knows the one they chose
        raise WeightFileError(f"{path}: cannot write the weight file ({exc.strerror or exc})") from None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as an ordinary open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str], device: str | Backend | None = None) -> Network:
    """The network stored in `path`, checked against its spec; raises :class:`WeightFileError`."""
    return load_with_optimizer(path, device)[0]


def load_with_optimizer(
    path: str | os.PathLike[str], device: str | Backend | None = None
) -> tuple[Network, Optimizer | None]:
    """The network and, when the file holds one, its optimizer with its state, for exact resume."""
    path = Path(path)
    header, tensors = _read(path)

    def fail(message: str) -> WeightFileError:
        return WeightFileError(f"{path}: {message}")

    spec = _json_field(path, header, "spec")
    network = _json_field(path, header, "network")
    training = _json_field(path, header, "training")
    try:
        spec = normalize(spec)
    except SpecError as exc:
        raise fail(f"its network spec is invalid: {exc}") from None
    if not isinstance(network, dict) or not isinstance(training, dict):
        raise fail("its 'network' and 'training' metadata must be JSON objects")
    init, seed, dtype = network.get("init"), network.get("seed"), network.get("dtype")
    if init not in INITS:
        raise fail(f"unknown init {init!r} in its metadata")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise fail(f"the seed in its metadata must be a whole number, got {seed!r}")
    if dtype not in ("float32", "float64"):
        raise fail(f"unsupported dtype {dtype!r} in its metadata (float32 or float64)")

    net = Network(spec, seed=seed, device=device, init=init, dtype=dtype, initialise=False)
    params = {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}
    problems = net.state_problems(params, exact_dtype=True)
    if problems:
        raise fail("it does not match its network spec: " + "; ".join(problems))
    problems = _training_problems(training, net.classes)
    if problems:
        raise fail("its training metadata is damaged: " + "; ".join(problems))
    net.load_state_dict(params)
    net.metadata = training

    opt_state = {k[len(OPTIMIZER_PREFIX) :]: v for k, v in tensors.items() if k.startswith(OPTIMIZER_PREFIX)}
    if "optimizer" not in header:
        if opt_state:
            raise fail("it holds optimizer tensors but no optimizer settings")
        return net, None
    optimizer = _optimizer(path, header, opt_state, net)
    return net, optimizer


def _optimizer(
    path: Path,
    header: dict[str, str],
    state: dict[str, np.ndarray],
    net: Network,
) -> Optimizer:
    saved = _json_field(path, header, "optimizer")
    config = saved.get("config") if isinstance(saved, dict) else None
    steps = saved.get("steps") if isinstance(saved, dict) else None
    if not isinstance(config, dict) or not isinstance(steps, int) or steps < 0:
        raise WeightFileError(f"{path}: its optimizer settings are damaged")
    try:
        optimizer = make_optimizer(config)
    except (TypeError, ValueError, KeyError) as exc:
        raise WeightFileError(f"{path}: its optimizer settings cannot be used ({exc})") from None
    expected = optimizer.state_shapes(net.param_shapes())
    problems = tensor_problems(state, expected, net.dtype, optimizer.name, OPTIMIZER_PREFIX)
    if problems:
        problems_text = "; ".join(problems)
        raise WeightFileError(f"{path}: its optimizer state does not match the network: {problems_text}")
    optimizer.load_state_dict(state, steps, net.backend)
    return optimizer


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's metadata, JSON fields decoded, without building a network (for summaries)."""
    path = Path(path)
    header, _ = _read(path)
    return {
        k: v if k in ("format", "format_version") else _json_field(path, header, k) for k, v in header.items()
    }


def _read(path: Path) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The header and every tensor, with any problem reading them said in words."""
    if not path.exists():
        raise WeightFileError(f"{path}: no such weight file")
    if path.is_dir():
        raise WeightFileError(f"{path}: is a folder, not a weight file")
    try:
        with safe_open(path, framework="np") as f:
            header = f.metadata() or {}
            if header.get("format") != FORMAT:
                raise WeightFileError(
                    f"{path}: is a safetensors file but not a ConvScope weight file (its header has no "
                    "ConvScope metadata)"
                )
            tensors = {k: np.array(f.get_tensor(k)) for k in f.keys()}
    except SafetensorError as exc:
        raise WeightFileError(
            f"{path}: not a readable .safetensors file; it may be truncated or damaged ({exc})"
        ) from None
    except OSError as exc:
        raise WeightFileError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    version = header.get("format_version", "")
    if not version.isdigit():
        raise WeightFileError(f"{path}: its format version {version!r} is not a number")
    if int(version) > VERSION:
        raise WeightFileError(
            f"{path}: was written in weight-file format {version}, newer than this ConvScope reads "
            f"({VERSION}); update ConvScope"
        )
    for key in ("spec", "network", "training"):
        if key not in header:
            raise WeightFileError(f"{path}: its header lacks the {key!r} metadata")
    return header, tensors


def _json_field(path: Path, header: dict[str, str], key: str) -> Any:
    try:
        return json.loads(header[key])
    except json.JSONDecodeError as exc:
        raise WeightFileError(f"{path}: its {key!r} metadata is not valid JSON ({exc.msg})") from None


__all__ = [
    "WeightFileError",
    "dataset_info",
    "load",
    "load_with_optimizer",
    "read_header",
    "save",
]


def _training_problems(training: dict[str, Any], classes: int) -> list[str]:
    """What in the recorded training metadata the CLI and the window could not use."""
    problems = []
    epochs = training.get("epochs", 0)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        problems.append(f"epochs must be a whole number ≥ 0, got {epochs!r}")
    dataset = training.get("dataset") or {}
    if not isinstance(dataset, dict):
        return [*problems, f"'dataset' must be an object, got {dataset!r}"]
    names = dataset.get("class_names") or []
    if not isinstance(names, list) or len(names) > classes:
        problems.append(f"class_names must be a list of at most {classes} names")
    stats = dataset.get("normalization")
    if stats is not None:
        try:
            means, stds = (np.asarray(s, dtype=np.float64) for s in stats)
            ok = means.ndim == 1 and means.shape == stds.shape and np.isfinite(means).all()
            ok = ok and bool((np.isfinite(stds) & (stds > 0)).all())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append("normalization must be per-channel means and positive stds of equal length")
    return problems
