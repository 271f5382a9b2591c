"""CIFAR-10 and CIFAR-100, in both published formats, from the folder their archive unpacks to.

- "python version": pickled batches (`data_batch_1`…`5`, `test_batch`, `batches.meta` for
  CIFAR-10; `train`, `test`, `meta` for CIFAR-100), read through the one restricted unpickler, so
  a hostile file fails with a `DataError` and runs nothing.
- "binary version": fixed-size records (`data_batch_1.bin`…, `test_batch.bin`,
  `batches.meta.txt`; `train.bin`, `test.bin`, `fine_label_names.txt`), each a label byte
  (CIFAR-100: a coarse and a fine label byte) and 3,072 pixel bytes, the red, green and blue
  32×32 planes in turn.

CIFAR-100's fine labels (100 classes) are the ones used. Images come out as uint8 (N, 3, 32, 32),
labels as int64. `progress(done, total)` is called as each batch file is read and `cancelled()`
polled before each, as for image folders."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engine import unpickle
from engine.bounded_io import read_regular
from engine.errors import DataError, LoadCancelled, clip
from engine.limits import check_data, current
from engine.wording import plural

PIXELS = 3 * 32 * 32
#: A label file's list of names is a few kilobytes.
_MAX_NAMES_BYTES = 1 << 20


class Part(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    source: str


class Cifar(NamedTuple):
    train: Part
    test: Part
    class_names: tuple[str, ...]


class _Layout(NamedTuple):
    """Where one of the four variants keeps its parts."""

    train: tuple[str, ...]
    test: str
    names: str
    label_bytes: int  # binary version: label bytes before each record's pixels
    label_key: str  # python version: the batch's key for the labels used
    names_key: str  # python version: the meta file's key for the class names


_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_PYTHON = (
    _Layout(_BATCHES, "test_batch", "batches.meta", 0, "labels", "label_names"),
    _Layout(("train",), "test", "meta", 0, "fine_labels", "fine_label_names"),
)
_BINARY = (
    _Layout(tuple(f"{b}.bin" for b in _BATCHES), "test_batch.bin", "batches.meta.txt", 1, "", ""),
    _Layout(("train.bin",), "test.bin", "fine_label_names.txt", 2, "", ""),
)


def read_cifar(
    folder: Path,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Cifar | None:
    """The CIFAR set in `folder`, or None when the folder holds none of CIFAR's files."""
    layout = _layout(folder)
    if layout is None:
        return None
    if layout in _PYTHON:
        return _read(folder, layout, _python_part, _python_names, progress, cancelled)
    return _read(folder, layout, _binary_part, _binary_names, progress, cancelled)


def is_cifar(folder: Path) -> bool:
    """Whether `folder` holds one of CIFAR's files (it is then read as CIFAR, or refused as one)."""
    return _layout(folder) is not None


def _layout(folder: Path) -> _Layout | None:
    for layout in (*_PYTHON, *_BINARY):
        if (folder / layout.test).is_file() or (folder / layout.train[0]).is_file():
            return layout
    return None


def _read(
    folder: Path,
    layout: _Layout,
    part: Any,
    names: Any,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
) -> Cifar:
    paths = [folder / name for name in (*layout.train, layout.test, layout.names)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{folder}: looks like CIFAR but lacks {', '.join(missing)}; unpack the whole archive."
        )
    # Images are read as uint8 and then held as float32: about five bytes per byte on disk.
    check_data(5 * sum(p.stat().st_size for p in paths[:-1]), str(folder))
    parts = []
    for name in (*layout.train, layout.test):
        if cancelled is not None and cancelled():
            raise LoadCancelled(f"{folder}: loading cancelled")
        parts.append(part(folder / name, layout))
        if progress is not None:
            progress(len(parts), len(layout.train) + 1)
    *trains, test = parts
    train = Part(np.concatenate([t.x for t in trains]), np.concatenate([t.y for t in trains]),
                 trains[0].source if len(trains) == 1 else f"{folder}/{layout.train[0][:-1]}*")
    class_names = names(folder / layout.names, layout)
    for p in (train, test):
        if len(p.y) and int(p.y.max()) >= len(class_names):
            raise DataError(
                f"{p.source}: holds the label {int(p.y.max())} but {folder / layout.names} names only "
                f"{plural(len(class_names), 'class')}."
            )
    return Cifar(train, test, class_names)


def _read_bytes(path: Path) -> bytes:
    return read_regular(path, current().max_data_bytes, DataError, "data file")


def _python_part(path: Path, layout: _Layout) -> Part:
    batch = unpickle.load(io.BytesIO(_read_bytes(path)), str(path))
    if not isinstance(batch, dict) or "data" not in batch or layout.label_key not in batch:
        keys = ", ".join(sorted(clip(repr(k), 30) for k in batch)) if isinstance(batch, dict) else ""
        raise DataError(
            f"{path}: is not a CIFAR batch (a dict with 'data' and '{layout.label_key}'"
            + (f"; it holds {clip(keys, 200)})." if keys else f"; it is a {type(batch).__name__}).")
        )
    x, y = batch["data"], batch[layout.label_key]
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == PIXELS):
        shape = "×".join(map(str, x.shape)) if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(f"{path}: its 'data' must be N×{PIXELS} bytes (32×32 RGB images), not {shape}.")
    if not (isinstance(y, list) and len(y) == len(x) and all(isinstance(v, int) and 0 <= v < 256 for v in y)):
        numbers = plural(len(x), "class number")
        raise DataError(f"{path}: its '{layout.label_key}' must be {numbers}, one per image.")
    return Part(x.reshape(-1, 3, 32, 32), np.asarray(y, dtype=np.int64), str(path))


def _python_names(path: Path, layout: _Layout) -> tuple[str, ...]:
    meta = unpickle.load(io.BytesIO(read_regular(path, _MAX_NAMES_BYTES, DataError, "data file")), str(path))
    names = meta.get(layout.names_key) if isinstance(meta, dict) else None
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise DataError(f"{path}: has no list of class names under '{layout.names_key}'.")
    return tuple(names)


def _binary_part(path: Path, layout: _Layout) -> Part:
    data = _read_bytes(path)
    record = layout.label_bytes + PIXELS
    if not data or len(data) % record:
        raise DataError(
            f"{path}: is {len(data):,} bytes, not a whole number of {record:,}-byte CIFAR records; "
            "the file is truncated or not a CIFAR binary batch."
        )
    rows = np.frombuffer(data, np.uint8).reshape(-1, record)
    x = np.ascontiguousarray(rows[:, layout.label_bytes :]).reshape(-1, 3, 32, 32)
    return Part(x, rows[:, layout.label_bytes - 1].astype(np.int64), str(path))


def _binary_names(path: Path, layout: _Layout) -> tuple[str, ...]:
    text = read_regular(path, _MAX_NAMES_BYTES, DataError, "data file")
    try:
        names = tuple(line.strip() for line in text.decode("utf-8").splitlines() if line.strip())
    except UnicodeDecodeError:
        raise DataError(f"{path}: is not a text file of class names, one a line.") from None
    if not names:
        raise DataError(f"{path}: names no classes (it should list them one a line).")
    return names
