"""Generators for the crafted inputs of issue 19: weight files, specs and data files that once made
ConvScope allocate gigabytes, hang, or fail with a raw Python exception.

Each case writes its input under a folder and says how it is used: a weight file evaluated or
resumed, a spec summarised or built, a data set loaded, or arrays trained on through the API.
`tests/test_hostile.py` runs every case through the CLI and the API in a limited subprocess;
`tests/fuzz_files.py` mutates the valid ones. Bombs are built without inflating them: deflate
blocks of zeros end in a full flush, so one block repeated stands for gigabytes."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from engine.backend import NUMPY
from engine.layers import make_layer
from engine.spec import default_spec, infer

#: A small valid network for MNIST-shaped data, so a weight file built on it is a few KB.
TINY: dict[str, Any] = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {"type": "conv", "filters": 2, "kernel": 5},
        {"type": "pool", "size": 2},
        {"type": "softmax"},
    ],
}
GIB = 1 << 30
MIB = 1 << 20


def weight_file(
    path: Path,
    spec: dict[str, Any] = TINY,
    *,
    header: dict[str, str] | None = None,
    optimizer: dict[str, Any] | None = None,
    extra_tensors: int = 0,
) -> Path:
    """A ConvScope weight file for `spec` (zero weights), its header fields replaced by `header`'s
    raw strings; `optimizer` adds settings (no state tensors: they start lazily)."""
    # The layers' own shapes, without building a network: the engine would refuse most of these.
    shapes = {
        info.param(key): shape
        for info in infer(spec)
        for key, shape in make_layer(info, NUMPY).param_shapes().items()
    }
    tensors = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    tensors.update({f"junk.{i}": np.zeros(1, np.float32) for i in range(extra_tensors)})
    meta = {
        "format": "convscope",
        "format_version": "1",
        "spec": json.dumps(spec),
        "network": json.dumps({"init": "he", "seed": 0, "dtype": "float32"}),
        "training": json.dumps({"epochs": 1}),
    }
    if optimizer is not None:
        meta["optimizer"] = json.dumps(optimizer)
    meta.update(header or {})
    path.write_bytes(safetensors.numpy.save(tensors, metadata=meta))
    return path


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deflate_zeros(prefix: bytes, total: int) -> bytes:
    """Raw deflate data that inflates to `prefix` and then zeros, `total` bytes in all: one
    compressed megabyte of zeros repeated (each ends in a full flush, so each stands alone)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(bytes(MIB)) + co.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(total - len(prefix), MIB)
    return head + block * count + co.compress(bytes(rest)) + co.flush()


def gzip_zeros(prefix: bytes, total: int) -> bytes:
    """A gzip file of `prefix` and zeros, `total` bytes inflated; its trailer's CRC is left 0,
    since a reader that trusts the stream never gets that far."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflate_zeros(prefix, total) + struct.pack(
        "<II", 0, total & 0xFFFFFFFF
    )


def zip64(path: Path, members: dict[str, tuple[bytes, int, bool]]) -> Path:
    """A zip archive written by hand: name -> (stored data, size inflated, deflated?), with zip64
    sizes so a member may claim more than 4 GiB. CRCs are real only for members stored whole."""
    out = io.BytesIO()
    central = []
    for name, (data, size, deflated) in members.items():
        offset = out.tell()
        crc = 0 if deflated else zlib.crc32(data)
        method = 8 if deflated else 0
        raw = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(raw), 20))
        out.write(raw + struct.pack("<HHQQ", 1, 16, size, len(data)) + data)
        central.append(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, crc,
                        0xFFFFFFFF, 0xFFFFFFFF, len(raw), 28, 0, 0, 0, 0, 0xFFFFFFFF)
            + raw + struct.pack("<HHQQQ", 1, 24, size, len(data), offset)
        )
    start = out.tell()
    for entry in central:
        out.write(entry)
    end = out.tell()
    n = len(central)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, end - start, start))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    path.write_bytes(out.getvalue())
    return path


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
    return f.getvalue()


def npy(array: np.ndarray) -> bytes:
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


def idx_header(shape: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def idx_folder(folder: Path, images: bytes, labels_count: int = 20) -> Path:
    """An MNIST-format folder whose training images file is `images` (gzipped by content)."""
    folder.mkdir(exist_ok=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(images)
    labels = idx_header((labels_count,)) + bytes(labels_count)
    (folder / "train-labels-idx1-ubyte").write_bytes(labels)
    return folder


def small_npz(path: Path, **arrays: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y = np.arange(20) % 10
    np.savez(path, **{"x": x, "y": y, **arrays})
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@dataclass(frozen=True)
class Case:
    """One crafted input: `make(folder)` writes it and returns its path; `use` is how it is fed
    to ConvScope ("weights", "resume", "spec", "data" or "fit")."""

    name: str
    use: str
    make: Callable[[Path], Path]


def _spec_file(spec: Any) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "net.json"
        path.write_bytes(spec if isinstance(spec, bytes) else json.dumps(spec).encode())
        return path

    return make


def _layers(*layers: dict[str, Any], classes: int = 10) -> dict[str, Any]:
    return {"input": [1, 28, 28], "classes": classes, "layers": [*layers, {"type": "softmax"}]}


def _with(spec: dict[str, Any], layer: int, **fields: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(spec))
    spec["layers"][layer].update(fields)
    return spec


_BIG_FILTERS = _with(default_spec(), 0, filters=10**5)
_PADDED = _layers(
    {"type": "conv", "filters": 2, "kernel": 5, "padding": 3000}, {"type": "pool", "size": 3012}
)
#: Small in memory (4 MiB an image) but a million window offsets, stepped through one by one.
_HUGE_POOL = _layers(
    {"type": "conv", "filters": 1, "kernel": 1, "padding": 500}, {"type": "pool", "size": 1028}
)
_LONG_STRING = _with(TINY, 0, activation="x" * (20 * MIB))
_DIGITS = b'{"input": [1, 28, 28], "classes": ' + b"9" * 5000 + b"}"
_LONG_SEED = '{"init": "he", "dtype": "float32", "seed": ' + "7" * 5000 + "}"
_NEGATIVE_SEED = '{"init": "he", "seed": -1, "dtype": "float32"}'
_ADAM = {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "l2": 0.0}


def _weights(spec: dict[str, Any] = TINY, **kwargs: Any) -> Callable[[Path], Path]:
    return lambda folder: weight_file(folder / "m.safetensors", spec, **kwargs)


def _raw_spec_weights(text: str) -> Callable[[Path], Path]:
    return _weights(header={"spec": text})


def _adam(**changes: Any) -> Callable[[Path], Path]:
    config = {k: v for k, v in {**_ADAM, **changes}.items() if k != "steps"}
    return _weights(optimizer={"config": config, "steps": changes.get("steps", 10)})


def _six_gib_idx_claimed(folder: Path) -> Path:
    shape = (6 * GIB // 784, 28, 28)
    return idx_folder(folder / "idx", gzip_zeros(idx_header(shape), 16 + 6 * GIB))


def _six_gib_idx_unclaimed(folder: Path) -> Path:
    return idx_folder(folder / "idx", gzip_zeros(idx_header((20, 28, 28)), 6 * GIB))


def _npy_claims_730_gib(folder: Path) -> Path:
    data = npy_header((10**9, 28, 28)) + bytes(1500)
    return zip64(folder / "d.npz", {"x.npy": _stored(data), "y.npy": _stored(npy(np.zeros(2, int)))})


def _zip_bomb(folder: Path) -> Path:
    shape = (5 * GIB // 784, 28, 28)
    header = npy_header(shape)
    size = len(header) + 5 * GIB // 784 * 784
    x = (deflate_zeros(header, size), size, True)
    return zip64(folder / "d.npz", {"x.npy": x, "y.npy": _stored(npy(np.zeros(2, int)))})


def _class_names_bomb(folder: Path) -> Path:
    header = npy_header((10**7,), "<U1")
    size = len(header) + 4 * 10**7
    npz = folder / "d.npz"
    small_npz(npz)
    with np.load(npz) as f:
        members = {"x.npy": _stored(npy(f["x"])), "y.npy": _stored(npy(f["y"]))}
    return zip64(npz, {**members, "class_names.npy": (deflate_zeros(header, size), size, True)})


def _not_npy(folder: Path) -> Path:
    return zip64(folder / "d.npz", {"x": _stored(b"hello"), "y": _stored(b"world")})


def _stored(data: bytes) -> tuple[bytes, int, bool]:
    return data, len(data), False


def _npz(**arrays: Any) -> Callable[[Path], Path]:
    return lambda folder: small_npz(folder / "d.npz", **arrays)


def _fifo(name: str) -> Callable[[Path], Path]:
    return lambda folder: fifo(folder / name)


CASES = [
    # Bound every size before allocating.
    Case("weights: conv padding 3000", "weights", _weights(_PADDED)),
    Case("weights: a pool over a huge map", "weights", _weights(_HUGE_POOL)),
    Case("weights: 10^5 filters", "weights", _weights(_BIG_FILTERS)),
    Case("spec: 10^5 filters", "spec", _spec_file(_BIG_FILTERS)),
    Case("spec: conv padding 3000", "spec", _spec_file(_PADDED)),
    Case("spec: classes 10^30", "spec", _spec_file({**TINY, "classes": 10**30})),
    Case("weights: classes 10^30", "weights", _raw_spec_weights(json.dumps({**TINY, "classes": 10**30}))),
    Case("data: 10^7 class names", "data", _class_names_bomb),
    # Data bombs.
    Case("data: IDX .gz claiming and inflating to 6 GiB", "data", _six_gib_idx_claimed),
    Case("data: IDX .gz inflating to 6 GiB past its header", "data", _six_gib_idx_unclaimed),
    Case("data: .npy header claiming (10^9, 28, 28) in 2 KB", "data", _npy_claims_730_gib),
    Case("data: 5 GiB zip bomb", "data", _zip_bomb),
    # Error messages of unbounded size.
    Case("spec: a 20 MB file", "spec", _spec_file(_with(TINY, 0, activation="x" * (20 * MIB)))),
    Case("spec: a 10 MB string", "spec", _spec_file(_with(TINY, 0, activation="x" * (10 * MIB)))),
    Case("weights: a 20 MB string", "weights", _raw_spec_weights(json.dumps(_LONG_STRING))),
    Case("spec: 300,000 bad layers", "spec", _spec_file(_layers(*[{"type": "conv"}] * 300_000))),
    Case("weights: 300,000 extra tensors", "weights", _weights(extra_tensors=300_000)),
    # One clean error for every bad input.
    Case("spec: nested 1,000 deep", "spec", _spec_file(nested(1000).encode())),
    Case("weights: metadata nested 1,000 deep", "weights", _weights(header={"training": nested(1000)})),
    Case("spec: type []", "spec", _spec_file(_with(TINY, 0, type=[]))),
    Case("spec: type {}", "spec", _spec_file(_with(TINY, 0, type={}))),
    Case("weights: type []", "weights", _raw_spec_weights(json.dumps(_with(TINY, 0, type=[])))),
    Case("spec: a 5000-digit integer", "spec", _spec_file(_DIGITS)),
    Case("weights: a 5000-digit seed", "weights", _weights(header={"network": _LONG_SEED})),
    Case("weights: format_version ²", "weights", _weights(header={"format_version": "²"})),
    Case("spec: not UTF-8", "spec", _spec_file(b'{"input": [1, 28, 28], "classes": "\xff\xfe"}')),
    Case("data: npz members that are not .npy", "data", _not_npy),
    Case("weights: a named pipe", "weights", _fifo("m.safetensors")),
    Case("spec: a named pipe", "spec", _fifo("net.json")),
    Case("data: a named pipe", "data", _fifo("d.npz")),
    Case("resume: Adam beta1 = 1", "resume", _adam(beta1=1)),
    Case("resume: Adam beta1 = 1e300", "resume", _adam(beta1=1e300)),
    Case("resume: Adam beta2 = 2", "resume", _adam(beta2=2)),
    Case("resume: steps = 10^400", "resume", _adam(steps=10**400)),
    Case("resume: a negative seed", "resume", _weights(header={"network": _NEGATIVE_SEED})),
    Case("data: float64 pixels of 1e39", "data", _npz(x=np.full((20, 28, 28), 1e39))),
    Case("fit: 0 images", "fit", _npz(x=np.zeros((0, 28, 28), np.uint8), y=np.zeros(0, int))),
    Case("fit: labels that are not whole numbers", "fit", _npz(y=np.arange(20) % 10 + 0.5)),
]


def _unreadable(folder: Path) -> Path:
    path = weight_file(folder / "m.safetensors")
    path.chmod(0)
    return path


if os.geteuid() != 0:  # root reads any file; test_hostile covers that case by a refused open
    CASES.append(Case("weights: permission denied", "weights", _unreadable))
