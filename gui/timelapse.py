"""A time-lapse of training: the network as it was before a run, at a few points of its first
epoch (where most change happens) and at each epoch's end, for a timeline to scrub through.

Each frame holds the first conv layer's filters, the chosen test image's feature maps (the
last of them its class probabilities) and the scores known then. The frames' memory is bounded:
past `budget_bytes`, every second frame between the first and the last is dropped, so a long run
keeps an evenly thinned record. Saved beside the weight file as ``NAME.timelapse.npz`` (plain
arrays, read back without pickle and checked against the network), so the weight-file format is
untouched. Qt-free."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import Callback, EpochInfo, Network
from engine.atomic_file import write_atomic
from engine.bounded_io import Npz
from engine.errors import WeightFileError
from engine.limits import format_bytes
from engine.training import BatchInfo
from engine.wording import plural
from gui.snapshot import take_snapshot

#: Where in the network's first epoch a frame is taken, besides its end.
FIRST_EPOCH_POINTS = (1 / 8, 1 / 4, 1 / 2)
#: The memory the frames may take; at most MAX_FRAMES frames are kept, or read from a file.
DEFAULT_BUDGET = 64 << 20
MAX_FRAMES = 10_000
#: The most a time-lapse file may hold, checked from its headers before anything is read.
MAX_LOAD_BYTES = 16 * DEFAULT_BUDGET
#: The scores a frame keeps, NaN where not known (within an epoch, or without validation).
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def sidecar_path(weights: str | os.PathLike[str]) -> Path:
    """``model.safetensors`` -> ``model.timelapse.npz``, beside it."""
    path = Path(weights)
    return path.with_name(f"{path.stem}.timelapse.npz")


@dataclass(frozen=True)
class Frame:
    #: Epochs trained when it was taken (2.25: a quarter into the third epoch).
    position: float
    #: The first conv layer's kernels (filters, channels, height, width); None without one.
    filters: np.ndarray | None
    #: The sample's output of every layer; the last is its class probabilities.
    maps: list[np.ndarray]
    metrics: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        return self.maps[-1]

    @property
    def nbytes(self) -> int:
        arrays = [*self.maps, self.metrics, *([] if self.filters is None else [self.filters])]
        return sum(a.nbytes for a in arrays)


def caption(frame: Frame, epochs: int) -> str:
    """Where `frame` is in training, of `epochs` in all, and its scores: "epoch 3 of 10
    (time-lapse) · validation accuracy 97.1%, loss 0.0912"."""
    whole, part = divmod(frame.position, 1.0)
    if frame.position == 0:
        where = "before training"
    elif part == 0:
        where = f"epoch {int(whole)} of {epochs}"
    else:
        where = f"{part:.0%} into epoch {int(whole) + 1} of {epochs}"
    scores = dict(zip(METRICS, frame.metrics.tolist(), strict=True))
    split = "val" if not math.isnan(scores["val_acc"]) else "train"
    acc, loss = scores[f"{split}_acc"], scores[f"{split}_loss"]
    known = "" if math.isnan(acc) else (
        f" · {'validation' if split == 'val' else 'training'} accuracy {acc:.1%}, loss {loss:.4f}"
    )
    return f"{where} (time-lapse){known}"


class TimeLapse(Callback):
    """Takes the frames as a training callback; one time-lapse may span several runs."""

    def __init__(self, images: np.ndarray, sample_index: int, budget_bytes: int = DEFAULT_BUDGET):
        self.images, self.sample_index, self.budget_bytes = images, sample_index, budget_bytes
        self.frames: list[Frame] = []
        self._net: Network | None = None
        self._marks: set[int] = set()

    @property
    def nbytes(self) -> int:
        return sum(frame.nbytes for frame in self.frames)

    @property
    def max_frames(self) -> int:
        """How many frames the budget holds (at least the first and the last)."""
        if not self.frames:
            return MAX_FRAMES
        return max(2, min(MAX_FRAMES, self.budget_bytes // max(self.frames[0].nbytes, 1)))

    def describe(self) -> str:
        return (
            f"{plural(len(self.frames), 'snapshot')}, {format_bytes(self.nbytes)} "
            f"(at most {format_bytes(self.budget_bytes)})"
        )

    def on_train_begin(self, net: Network, epochs: int, batches: int) -> None:
        self._net = net
        self._marks = {max(1, round(f * batches)) for f in FIRST_EPOCH_POINTS} - {batches}
        start = float(net.metadata.get("epochs", 0))
        if not self.frames or self.frames[-1].position != start:
            self._take(start, np.full(len(METRICS), np.nan))

    def on_batch_end(self, info: BatchInfo) -> None:
        if info.epoch == 1 and info.batch in self._marks:
            self._take(info.batch / info.batches, np.full(len(METRICS), np.nan))

    def on_epoch_end(self, info: EpochInfo) -> None:
        scores = [getattr(info, k) for k in METRICS]
        self._take(float(info.epoch), np.array([math.nan if v is None else v for v in scores]))

    def _take(self, position: float, metrics: np.ndarray) -> None:
        snapshot = take_snapshot(self._net, self.images, self.sample_index)
        filters = next(iter(snapshot.kernels.values()), None)
        self.frames.append(Frame(position, filters, snapshot.maps, metrics.astype(np.float64)))
        while len(self.frames) > self.max_frames:
            middle = self.frames[1:-1]
            self.frames = [self.frames[0], *middle[1::2], self.frames[-1]]

    # -- the sidecar file ----------------------------------------------------------------------

    def save(self, weights: str | os.PathLike[str]) -> Path:
        """Write the frames beside the weight file `weights`, atomically."""
        path = sidecar_path(weights)
        arrays = {
            "sample_index": np.array(self.sample_index),
            "positions": np.array([f.position for f in self.frames]),
            "metrics": np.stack([f.metrics for f in self.frames]),
        }
        if self.frames[0].filters is not None:
            arrays["filters"] = np.stack([f.filters for f in self.frames])
        for i in range(len(self.frames[0].maps)):
            arrays[f"maps_{i}"] = np.stack([f.maps[i] for f in self.frames])
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            write_atomic(path, buffer.getvalue())
        except OSError as exc:
            raise WeightFileError(f"{path}: cannot write the time-lapse ({exc.strerror or exc})") from None
        return path

    @classmethod
    def load(cls, weights: str | os.PathLike[str], net: Network, images: np.ndarray) -> TimeLapse | None:
        """The time-lapse saved beside `weights` for `net`, None when there is none; a file that
        does not fit `net` or is damaged raises :class:`WeightFileError` naming it."""
        path = sidecar_path(weights)
        if not path.exists():
            return None
        conv = next((info for info in net.infos if info.type == "conv"), None)
        with Npz(path, WeightFileError) as npz:
            frames = npz.header("positions").shape if "positions" in npz.members else ()
            if len(frames) != 1 or not 1 <= frames[0] <= MAX_FRAMES:
                raise WeightFileError(f"{path}: needs 1 to {MAX_FRAMES:,} positions")
            n = frames[0]
            wanted = {
                "sample_index": ((), "iu"),
                "positions": ((n,), "f"),
                "metrics": ((n, len(METRICS)), "f"),
                **{f"maps_{i}": ((n, *info.output_shape), "f") for i, info in enumerate(net.infos)},
            }
            if conv is not None:
                wanted["filters"] = ((n, *net.param_shapes()[conv.param("weight")]), "f")
            total = 0
            for key, (shape, kinds) in wanted.items():
                if key not in npz.members:
                    raise WeightFileError(f"{path}: has no array {key!r}")
                header = npz.header(key)
                if header.shape != shape or header.dtype.kind not in kinds:
                    raise WeightFileError(
                        f"{path}: {key} is {header.shape} {header.dtype}, the network needs {shape}"
                    )
                total += header.nbytes
            if total > MAX_LOAD_BYTES:
                raise WeightFileError(f"{path}: holds {format_bytes(total)}, more than a time-lapse may")
            arrays = {key: npz.read(key) for key in wanted}
        index = int(arrays["sample_index"])
        if not 0 <= index < len(images):
            raise WeightFileError(f"{path}: its test image {index} is not in the data set")
        if not np.isfinite(arrays["positions"]).all():
            raise WeightFileError(f"{path}: its positions must be finite numbers")
        timelapse = cls(images, index)
        for t in range(n):
            filters = arrays["filters"][t] if conv is not None else None
            maps = [arrays[f"maps_{i}"][t] for i in range(len(net.infos))]
            position = float(arrays["positions"][t])
            timelapse.frames.append(Frame(position, filters, maps, arrays["metrics"][t]))
        return timelapse
