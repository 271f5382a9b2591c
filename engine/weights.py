"""Weight files: `.safetensors` tensors plus JSON metadata in the header, never pickle.

A file holds the parameters (``layers.{i}.weight`` / ``.bias``, PyTorch layouts), optionally the
optimizer's state under ``optimizer.``, and in its header the spec, init, seed, dtype, the data
set's name, input shape, class names and normalisation, the training metadata (epochs, metrics)
and the optimizer's config and step count, so training can resume exactly and `evaluate` can
prepare data the way training did. Loading checks all of it, because a weight file is user input.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError, safe_open

from engine import jsontext
from engine.activations import Custom
from engine.atomic_file import write_atomic
from engine.backend import NUMPY, Backend
from engine.bounded_io import open_regular, os_reason
from engine.data import _IDX_TYPES, MAX_NAME, Dataset, class_names_problem
from engine.errors import LimitError, SpecError, WeightFileError, clip, listing
from engine.init import INITS
from engine.limits import estimate
from engine.network import DTYPES, Network, tensor_problems
from engine.optim import Optimizer, make_optimizer
from engine.output_path import check_output_path
from engine.spec import normalize

FORMAT = "convscope"
VERSION = 1
OPTIMIZER_PREFIX = "optimizer."
#: Safetensors' dtype names, as NumPy names them (bfloat16 has no NumPy dtype: kept as its name).
_STORED_DTYPES = {
    "F16": "float16", "F32": "float32", "F64": "float64", "BOOL": "bool",
    **{f"{k}{b}": f"{n}{b}" for k, n in (("I", "int"), ("U", "uint")) for b in (8, 16, 32, 64)},
}


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
    *,
    allow_non_finite: bool = False,
) -> None:
    """Write `net` (and `optimizer`'s state, for exact resume) atomically to `path`.

    The file is written beside `path` and renamed over it, so a crash mid-save leaves the
    previous file whole. Weights or state holding NaN or infinity (a diverged network) are
    refused unless `allow_non_finite`, so they never silently replace a good file.
    """
    check_output_path(path)
    layers = net.spec["layers"]
    custom = [str(layer["activation"]) for layer in layers if isinstance(layer.get("activation"), Custom)]
    if custom:
        raise WeightFileError(
            f"{path}: not written: the activation {clip(', '.join(custom), 80)} is Python code, which "
            "a weight file does not hold"
        )
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
    broken = [k for k, v in tensors.items() if not np.isfinite(v).all()]
    if broken and not allow_non_finite:
        raise WeightFileError(
            f"{path}: not written: {clip(', '.join(broken))} hold NaN or infinite values "
            "(the network has diverged)"
        )
    data = safetensors.numpy.save(tensors, metadata=header)
    try:
        write_atomic(Path(path), data)
    except OSError as exc:  # it names the temporary file; the user knows the one they chose
        raise WeightFileError(f"{path}: cannot write the weight file ({exc.strerror or exc})") from None


def load(
    path: str | os.PathLike[str], device: str | Backend | None = None, *, allow_non_finite: bool = False
) -> Network:
    """The network stored in `path`, checked against its spec; raises :class:`WeightFileError`."""
    return load_with_optimizer(path, device, allow_non_finite=allow_non_finite)[0]


def load_with_optimizer(
    path: str | os.PathLike[str], device: str | Backend | None = None, *, allow_non_finite: bool = False
) -> tuple[Network, Optimizer | None]:
    """The network and, when the file holds one, its optimizer with its state, for exact resume.

    The header is read and every metadata field checked in type and range, the network's size
    checked against :mod:`engine.limits` and every tensor's name, shape and dtype checked, all
    before any tensor is read. Tensors holding NaN or infinity (a diverged network saved with
    `save(allow_non_finite=True)`, or a damaged file) are refused unless `allow_non_finite`, so
    the CLI and the window never keep such a network."""
    path = Path(path)

    def fail(message: str) -> WeightFileError:
        return WeightFileError(f"{path}: {message}")

    with _opened(path) as f:
        header = _header(path, f)
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
        if not isinstance(init, str) or init not in INITS:
            raise fail(f"unknown init {clip(repr(init), 60)} in its metadata")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
            raise fail(f"the seed in its metadata must be a whole number in [0, 2⁶⁴), not {clip(seed, 30)}")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise fail(f"unsupported dtype {clip(repr(dtype), 60)} in its metadata (float32 or float64)")
        problems = _training_problems(training, spec)
        if problems:
            raise fail("its training metadata is damaged: " + listing(problems))
        try:
            estimate(spec, dtype).check()
        except LimitError as exc:
            raise fail(str(exc)) from None

        net = Network(spec, seed=seed, device=device, init=init, dtype=dtype, initialise=False)
        stored = {k: _Stored.of(f.get_slice(k)) for k in f.keys()}
        params = {k: v for k, v in stored.items() if not k.startswith(OPTIMIZER_PREFIX)}
        problems = net.state_problems(params, exact_dtype=True)
        if problems:
            raise fail("it does not match its network spec: " + listing(problems))
        opt_state = {
            k[len(OPTIMIZER_PREFIX) :]: v for k, v in stored.items() if k.startswith(OPTIMIZER_PREFIX)
        }
        if "optimizer" not in header:
            if opt_state:
                raise fail("it holds optimizer tensors but no optimizer settings")
            optimizer, steps = None, 0
        else:
            optimizer, steps = _optimizer(path, header, opt_state, net)
        values = {k: _tensor(path, f, k) for k in stored}
    broken = [k for k, v in values.items() if not np.isfinite(v).all()]
    if broken and not allow_non_finite:
        raise fail(f"{listing(broken, sep=', ')} hold NaN or infinite values (a diverged or damaged network)")
    net.load_state_dict({k: values[k] for k in params})
    net.metadata = training
    if optimizer is not None:
        state = {k: values[OPTIMIZER_PREFIX + k] for k in opt_state}
        optimizer.load_state_dict(state, steps, net.backend)
    return net, optimizer


def _optimizer(
    path: Path,
    header: dict[str, str],
    state: dict[str, Any],
    net: Network,
) -> tuple[Optimizer, int]:
    """The optimizer the file's settings describe, with its step count, once its settings and its
    tensors' names and shapes have been checked; the caller loads the tensors into it."""
    saved = _json_field(path, header, "optimizer")
    config = saved.get("config") if isinstance(saved, dict) else None
    steps = saved.get("steps") if isinstance(saved, dict) else None
    if not isinstance(config, dict):
        raise WeightFileError(f"{path}: its optimizer settings are damaged")
    try:
        optimizer = make_optimizer(config)
        optimizer.load_state_dict({}, steps, NUMPY)  # checks the step count
    except ValueError as exc:
        raise WeightFileError(f"{path}: its optimizer settings cannot be used ({exc})") from None
    expected = optimizer.state_shapes(net.param_shapes())
    problems = tensor_problems(state, expected, net.dtype, optimizer.name, OPTIMIZER_PREFIX)
    if problems:
        problems_text = listing(problems)
        raise WeightFileError(f"{path}: its optimizer state does not match the network: {problems_text}")
    return optimizer, steps


def _tensor(path: Path, f: Any, key: str) -> np.ndarray:
    try:
        return np.array(f.get_tensor(key))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightFileError(f"{path}: tensor {key} cannot be read ({clip(exc, 120)})") from None


class _Stored(NamedTuple):
    """A stored tensor's shape and dtype, read from the file's header: what the checks of
    :func:`engine.network.tensor_problems` look at, before any tensor is read."""

    shape: tuple[int, ...]
    dtype: Any

    @classmethod
    def of(cls, stored: Any) -> _Stored:
        name = stored.get_dtype()
        dtype = _STORED_DTYPES.get(name)
        return cls(tuple(stored.get_shape()), np.dtype(dtype) if dtype else clip(name, 20))


def recorded_normalization(net: Network) -> tuple[list[float], list[float]] | None:
    """The per-channel (means, stds) the network's training data was standardised with, as its
    weight file records them, or None: what an exported model applies to its input first."""
    stats = (net.metadata.get("dataset") or {}).get("normalization")
    if stats is None:
        return None
    means, stds = ([float(v) for v in s] for s in stats)
    return means, stds


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file's metadata, JSON fields decoded, without building a network (for summaries)."""
    path = Path(path)
    with _opened(path) as f:
        header = _header(path, f)
    return {
        k: v if k in ("format", "format_version") else _json_field(path, header, k) for k, v in header.items()
    }


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Any]:
    """The file opened by safetensors, once it is known to be a readable regular file (safetensors
    would block on a named pipe and calls a permission error "No such file or directory")."""
    open_regular(path, WeightFileError, "weight file").close()
    try:
        with safe_open(path, framework="np") as f:
            yield f
    except SafetensorError as exc:
        kind = _wrong_kind(path)
        if kind is not None:
            raise WeightFileError(f"{path}: this is {kind}") from None
        raise WeightFileError(
            f"{path}: not a readable .safetensors file; it may be truncated or damaged ({clip(exc, 200)})"
        ) from None
    except OSError as exc:
        raise WeightFileError(f"{path}: cannot read the file ({os_reason(exc)})") from None


def _header(path: Path, f: Any) -> dict[str, str]:
    """The ConvScope metadata of an open file, its format and version checked."""
    header = f.metadata() or {}
    if header.get("format") != FORMAT:
        raise WeightFileError(
            f"{path}: is a safetensors file but not a ConvScope weight file (its header has no "
            "ConvScope metadata)"
        )
    version = header.get("format_version", "")
    if not (version.isascii() and version.isdigit() and len(version) <= 6):
        raise WeightFileError(f"{path}: its format version {clip(repr(version), 40)} is not a number")
    if int(version) > VERSION:
        raise WeightFileError(
            f"{path}: was written in weight-file format {version}, newer than this ConvScope reads "
            f"({VERSION}); update ConvScope"
        )
    for key in ("spec", "network", "training"):
        if key not in header:
            raise WeightFileError(f"{path}: its header lacks the {key!r} metadata")
    return header


#: Files people mistake for weight files, by their first bytes: what they are and where they go.
_KINDS = (
    (b"\x93NUMPY", "a NumPy .npy array", "a data set is an .npz archive; pass that with --data"),
    (b"\x1f\x8b", "a gzip file", "gzipped data files go with --data"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "a weight file is what convscope train --save writes"),
    (b"\xff\xd8\xff", "a JPEG image", "a weight file is what convscope train --save writes"),
)


def _wrong_kind(path: Path) -> str | None:
    """What a file that is not a safetensors file is, when it is a common one, and where it goes."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for magic, kind, hint in _KINDS:
        if head.startswith(magic):
            return f"{kind}, not a weight file; {hint}"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        if names and all(n.endswith(".npy") for n in names):
            return "a NumPy .npz archive, not a weight file; pass it with --data"
        return "a zip archive, not a weight file"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle, not a weight file (weights are never unpickled); pickled data: --data"
    if len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _IDX_TYPES and 1 <= head[3] <= 4:
        return "an IDX (MNIST-format) file, not a weight file; pass its folder with --data"
    if head.lstrip()[:1] in (b"{", b"["):
        return "a JSON file, not a weight file; a network spec goes with --spec"
    return None


def _json_field(path: Path, header: dict[str, str], key: str) -> Any:
    where = f"{path}: its {clip(key, 40)!r} metadata"
    return jsontext.parse(header[key], lambda why: WeightFileError(f"{where} {why}"))


__all__ = [
    "WeightFileError",
    "dataset_info",
    "load",
    "load_with_optimizer",
    "read_header",
    "recorded_normalization",
    "save",
]


#: More epochs than any run trains.
MAX_EPOCHS = 10**9
_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def _training_problems(training: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """What in the recorded training metadata the CLI and the window could not use: each field is
    checked in type and range, since the file is user input."""
    problems = []
    epochs = training.get("epochs", 0)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 0 <= epochs <= MAX_EPOCHS:
        got = clip(repr(epochs), 60)
        problems.append(f"epochs must be a whole number from 0 to {MAX_EPOCHS:,}, got {got}")
    metrics = training.get("metrics", {})
    if not isinstance(metrics, dict) or any(
        k not in _METRICS or not (v is None or _is_number(v)) for k, v in metrics.items()
    ):
        problems.append(f"metrics must map {', '.join(_METRICS)} to numbers")
    dataset = training.get("dataset") or {}
    if not isinstance(dataset, dict):
        return [*problems, f"'dataset' must be an object, got {clip(repr(dataset), 60)}"]
    name = dataset.get("name")
    if name is not None and not (isinstance(name, str) and len(name) <= MAX_NAME):
        problems.append(f"the data set's name must be text of at most {MAX_NAME} characters")
    names = dataset.get("class_names") or []
    problem = class_names_problem(names, spec["classes"])
    if problem:
        problems.append(problem)
    stats = dataset.get("normalization")
    if stats is not None:
        channels = spec["input"][0]
        ok = isinstance(stats, list) and len(stats) == 2
        ok = ok and all(isinstance(s, list) and len(s) == channels and all(map(_is_number, s)) for s in stats)
        ok = ok and all(math.isfinite(m) for m in stats[0])
        ok = ok and all(math.isfinite(s) and s > 0 for s in stats[1])
        if not ok:
            problems.append(
                f"normalization must be per-channel means and positive stds of equal length ({channels})"
            )
    return problems


def _is_number(v: Any) -> bool:
    """A JSON number: finite, or NaN (JSON as Python writes it; a metric not computed)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and (math.isfinite(v) or math.isnan(v))
