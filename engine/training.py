"""The mini-batch training loop, and the thread-safe control the window uses to steer it.

The loop runs wherever it is called (the CLI's main thread, the window's worker thread) and
reports through callbacks; between batches it honours pause, resume, stop and a new learning
rate, so nothing outside it ever touches the network mid-step."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.augment import Augment
from engine.captured_step import CapturedStep, capture_problem
from engine.data import Dataset, as_split
from engine.errors import DataError, TrainingDiverged
from engine.evaluation import Evaluation, evaluate
from engine.last_good import LastGood
from engine.network import Network
from engine.optim import SGD, Optimizer, check_setting
from engine.parallel import Threads, host_threads
from engine.spec import shape_text
from engine.wording import plural

SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    """Learning rate over the run: constant, step (× gamma every `step_epochs`) or cosine."""

    kind: str = "constant"
    step_epochs: int = 5
    gamma: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r} (choose one of {', '.join(SCHEDULES)})")

    def lr(self, base: float, progress: float, epochs: int) -> float:
        """The rate at `progress` epochs into a run of `epochs`."""
        if self.kind == "step":
            return base * self.gamma ** int(progress // self.step_epochs)
        if self.kind == "cosine":
            return base * 0.5 * (1 + math.cos(math.pi * min(progress / max(epochs, 1), 1.0)))
        return base


@dataclass(frozen=True)
class BatchInfo:
    epoch: int  # 1-based, counting epochs the network trained before this run
    epochs: int
    batch: int  # 1-based within the epoch
    batches: int
    loss: float
    lr: float
    step: int  # optimizer steps so far
    images_per_s: float
    eta_s: float
    #: Accuracy on the epoch's batches so far, for progress bars.
    train_acc: float = math.nan


@dataclass(frozen=True)
class EpochInfo:
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    seconds: float
    images_per_s: float
    #: The pass that scored the validation set: its labels, class probabilities (host copies)
    #: and loss, so the views' analyses (confusion matrix, mistakes) never predict it again.
    evaluation: Evaluation | None = None


@dataclass
class History:
    batch_loss: list[float] = field(default_factory=list)
    epochs: list[EpochInfo] = field(default_factory=list)
    #: Why the run ended early ("stopped"), or None when it ran every epoch.
    stopped: str | None = None
    #: How the run trained where it could not do as asked (a step that was not captured).
    notes: list[str] = field(default_factory=list)


class Callback:
    """Override the hooks you need; they run on the training thread."""

    def on_train_begin(self, net: Network, epochs: int, batches: int) -> None:
        """Called once before the first batch."""

    def on_batch_end(self, info: BatchInfo) -> None:
        """Called after every optimizer step."""

    def on_epoch_end(self, info: EpochInfo) -> None:
        """Called after each epoch's validation."""

    def on_train_end(self, history: History) -> None:
        """Called when the run ends, also when it ends early."""


class TrainingControl:
    """Pause, resume, stop and a new learning rate, requested from any thread and applied by
    the training loop between batches. Stop wins over pause, whatever their order."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._paused = False
        self._stop = False
        self._lr: float | None = None

    def pause(self) -> None:
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stop = True
            self._changed.notify_all()

    def set_lr(self, lr: float) -> None:
        """Use `lr` from the next batch on; raises :class:`SettingError` (in the caller's thread)
        for a rate the optimizers refuse, so the run never sees it."""
        lr = check_setting("lr", lr)
        with self._changed:
            self._lr = lr

    @property
    def paused(self) -> bool:
        """Paused and not stopped: a stopped run is ending, not waiting."""
        with self._changed:
            return self._paused and not self._stop

    @property
    def stop_requested(self) -> bool:
        with self._changed:
            return self._stop

    def checkpoint(self, optimizer: Optimizer) -> float:
        """Wait out a pause unless a stop is requested, applying a new learning rate; returns the
        seconds spent paused."""
        with self._changed:
            if self._paused and not self._stop:
                t = time.perf_counter()
                self._changed.wait_for(lambda: not self._paused or self._stop)
                waited = time.perf_counter() - t
            else:
                waited = 0.0
            if self._lr is not None:
                optimizer.lr, self._lr = self._lr, None
            return waited


def fit_problem(
    net: Network, data: Any, *, name: str = "the data", exact_classes: bool = False
) -> str | None:
    """Why `data` cannot feed `net`, or None: the one rule the loop, the CLI and the window share.

    `data` is a :class:`Dataset`, named by its name and with a class per class name, or an
    (images, labels) pair called `name`, with as many classes as its labels need. The network may
    have more outputs than that unless `exact_classes`: the window names every output's bar.
    """
    x, y = as_split(data)
    if isinstance(data, Dataset):
        name = data.name
    if len(x) == 0:
        return f"{name} holds no images"
    if getattr(y, "ndim", None) != 1 or y.dtype.kind not in "uif":
        return f"{name}'s labels must be a 1-D array of class numbers 0, 1, 2, ..."
    if y.dtype.kind == "f" and not bool(((y % 1) == 0).all()):  # NaN and inf fail this too
        return f"{name} has labels that are not whole numbers; labels are class numbers 0, 1, 2, ..."
    classes = data.classes if isinstance(data, Dataset) else int(y.max()) + 1 if len(y) else 0
    if x.ndim != 4 or tuple(x.shape[1:]) != net.input_shape:
        got, want = shape_text(x.shape[1:]), shape_text(net.input_shape)
        return f"{name} has {got} images but the network expects {want}"
    if len(x) != len(y):
        return f"{name} has {plural(len(x), 'image')} but {plural(len(y), 'label')}"
    if len(y) and int(y.min()) < 0:
        return f"{name} has the label {int(y.min())}, but labels are class numbers 0, 1, 2, ..."
    if classes > net.classes or (exact_classes and classes != net.classes):
        return f"{name} has {plural(classes, 'class')} but the network has {net.classes}"
    return None


def check_fits(net: Network, data: Any, *, name: str = "the data", exact_classes: bool = False) -> None:
    """:func:`fit_problem` as a :class:`DataError`, for callers that stop at the first problem."""
    problem = fit_problem(net, data, name=name, exact_classes=exact_classes)
    if problem:
        raise DataError(problem)


def _seed(*words: int) -> int:
    return int(np.random.SeedSequence(list(words)).generate_state(1)[0])


@dataclass(frozen=True)
class _Pending:
    """A batch trained but not read back yet."""

    batch: int  # 0-based within the epoch
    images: int
    lr: float
    step: int


class _Run:
    """One call of :func:`fit`: the state its epochs share, and the steps of an epoch."""

    def __init__(
        self,
        net: Network,
        x: Any,
        y: Any,
        *,
        epochs: int,
        batch_size: int,
        optimizer: Optimizer,
        validation: Any,
        callbacks: Sequence[Callback],
        schedule: Schedule,
        control: TrainingControl | None,
        shuffle: bool,
        augment: Augment | None,
        read_every: int,
        capture: bool | None,
    ):
        self.net, self.optimizer, self.validation = net, optimizer, validation
        self.callbacks, self.schedule, self.control, self.shuffle = callbacks, schedule, control, shuffle
        self.batch_size = batch_size
        self.augment = augment if augment is not None and augment.active else None
        self.x = net.backend.to_device(x, dtype=net.dtype)
        self.y = net.backend.to_device(y, dtype=np.int64)
        self.n = len(x)
        self.batches = math.ceil(self.n / batch_size)
        #: Epochs count on from those the network trained before, so a resumed run goes on.
        self.first = int(net.metadata.get("epochs", 0))
        self.last = self.first + epochs
        self.history = History()
        self.last_good = LastGood(net, optimizer)
        self.busy = 0.0  # seconds spent training, pauses excluded
        self.done = 0  # images trained on in this run
        self.lr = optimizer.lr
        self.read_every = read_every
        #: Each pending batch's summed loss (row 0) and correct answers (row 1), and the health
        #: check (row 0, last column), read back in one host copy.
        self.readings = net.xp.zeros((2, read_every + 1), dtype=np.float64)
        self.pending: list[_Pending] = []
        self.captured: CapturedStep | None = None
        # None: as the backend does by default, and silently where this run cannot.
        self.capture = net.backend.captures_steps if capture is None else capture
        if self.capture and (problem := capture_problem(net, optimizer, self.augment is not None)):
            if capture:
                self.history.notes.append(f"the training step was not captured: {problem}")
            self.capture = False

    def epoch(self, epoch: int, pool: Threads) -> bool:
        """Train one epoch and report it; False when a stop was asked for before its end."""
        net, backend, xp = self.net, self.net.backend, self.net.xp
        started = time.perf_counter()
        if self.shuffle:
            order = backend.to_device(np.random.default_rng([net.seed, epoch]).permutation(self.n))
        else:
            order = xp.arange(self.n)
        dropout_rngs = [backend.rng(_seed(net.seed, epoch, 1, p)) for p in range(pool.count)]
        augment_rng = backend.rng(_seed(net.seed, epoch, 2))
        self.loss_sum, self.right = net.dtype.type(0), 0
        if self.capture and self.captured is None:
            self.captured = CapturedStep(
                net, self.optimizer, self.x, self.y, self.batch_size, pool, self.history.notes
            )
        for b in range(self.batches):
            if self.control is not None:
                if self.control.paused:
                    self._read(epoch)  # a paused run shows where it stands
                started += self.control.checkpoint(self.optimizer)
                if self.control.stop_requested:
                    self._read(epoch)
                    self.history.stopped = "stopped"
                    return False
            t = time.perf_counter()
            rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            self.lr = self.schedule.lr(self.optimizer.lr, epoch + b / self.batches, self.last)
            column = len(self.pending)
            if self.captured is not None and len(rows) == self.batch_size:
                self.readings[:, column] = self.captured(rows, self.lr)
            else:
                xb = self.x[rows]
                if self.augment is not None:
                    xb = self.augment.apply(xp, xb, augment_rng)
                loss, right, grads = net.batch_gradients(xb, self.y[rows], dropout_rngs, pool)
                self.optimizer.step(net.params, grads, self.lr, backend.step_kernels)
                self.readings[0, column] = loss
                self.readings[1, column] = right
            self.pending.append(_Pending(b, len(rows), self.lr, self.optimizer.steps))
            self.busy += time.perf_counter() - t
            if len(self.pending) == self.read_every or b == self.batches - 1:
                self._read(epoch)
        self._report_epoch(epoch, started, pool)
        return True

    def _read(self, epoch: int) -> None:
        """One host copy for the batches trained since the last: their losses and correct
        answers, and a health check of the weights and the optimizer's state they left. Anything
        non-finite raises :class:`TrainingDiverged`; else the state becomes the last good one and
        the batches are reported."""
        if not self.pending:
            return
        t = time.perf_counter()
        k = len(self.pending)
        self.readings[0, -1] = self.last_good.health()
        values = self.net.backend.to_host(self.readings)
        # Each batch's mean loss in the network's float32, as the device would divide it.
        losses = values[0, :k].astype(self.net.dtype) / np.asarray(
            [p.images for p in self.pending], dtype=self.net.dtype
        )
        if not (np.isfinite(losses).all() and math.isfinite(values[0, -1])):
            bad = next((p for p, v in zip(self.pending, losses, strict=True) if not math.isfinite(v)), None)
            what = f"the loss became {float(losses[self.pending.index(bad)])}" if bad else (
                "the weights became infinite or NaN"
            )
            where = bad or self.pending[-1]
            self.pending.clear()
            raise TrainingDiverged(
                f"{what} at epoch {epoch + 1}, batch {where.batch + 1} (learning rate {where.lr:g}); "
                "training stopped and the weights of the last good step were kept "
                "(try a smaller learning rate)"
            )
        self.last_good.keep()
        self.busy += time.perf_counter() - t
        pending, self.pending = self.pending, []
        last, total = self.last, (self.last - self.first) * self.n
        real = self.net.dtype.type
        for p, total_loss, loss, right in zip(
            pending, values[0, :k].tolist(), losses.tolist(), values[1, :k].tolist(), strict=True
        ):
            self.loss_sum = real(self.loss_sum + real(total_loss))  # summed as the device would
            self.right += int(right)
            self.history.batch_loss.append(loss)
            self.done += p.images
            rate = self.done / self.busy if self.busy > 0 else 0.0
            info = BatchInfo(
                epoch=epoch + 1,
                epochs=last,
                batch=p.batch + 1,
                batches=self.batches,
                loss=loss,
                lr=p.lr,
                step=p.step,
                images_per_s=rate,
                eta_s=(total - self.done) / rate if rate > 0 else math.inf,
                train_acc=self.right / min((p.batch + 1) * self.batch_size, self.n),
            )
            for cb in self.callbacks:
                cb.on_batch_end(info)

    def _report_epoch(self, epoch: int, started: float, pool: Threads) -> None:
        """Validate, record the epoch in the network's metadata and the history, tell callbacks."""
        net, n = self.net, self.n
        val_loss = val_acc = result = None
        if self.validation is not None:
            result = evaluate(net, self.validation, threads=pool.count)
            val_loss, val_acc = result.loss, result.accuracy
        net.metadata["epochs"] = epoch + 1
        seconds = time.perf_counter() - started
        epoch_info = EpochInfo(
            epoch=epoch + 1,
            epochs=self.last,
            train_loss=float(self.loss_sum) / n,
            train_acc=self.right / n,
            val_loss=val_loss,
            val_acc=val_acc,
            evaluation=result,
            lr=self.lr,
            seconds=seconds,
            images_per_s=n / seconds if seconds > 0 else 0.0,
        )
        # Callbacks get the probabilities; the history keeps the scores only, not one
        # probability array per epoch of a long run.
        self.history.epochs.append(replace(epoch_info, evaluation=None))
        net.metadata["metrics"] = {
            k: getattr(epoch_info, k) for k in ("train_loss", "train_acc", "val_loss", "val_acc")
        }
        for cb in self.callbacks:
            cb.on_epoch_end(epoch_info)


def fit(
    net: Network,
    train: Any,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    optimizer: Optimizer | None = None,
    validation: Any = None,
    callbacks: Sequence[Callback] = (),
    schedule: Schedule | str = "constant",
    control: TrainingControl | None = None,
    threads: int | None = None,
    shuffle: bool = True,
    augment: Augment | None = None,
    read_every: int | None = None,
    capture: bool | None = None,
) -> History:
    """Train `net` by mini-batch backpropagation for `epochs` more epochs.

    Each epoch draws a new order of the images unless `shuffle` is false (then file order, as
    network3 trains). Shuffling and dropout are seeded from the network's seed and the epoch
    number, so a run is reproducible (for a given number of `threads`, default:
    :func:`engine.parallel.default_threads`) and a resumed run sees the batches the uninterrupted
    one would have. `augment` varies each training batch on the device (:mod:`engine.augment`),
    seeded the same way.

    The losses, the accuracy and the health check are read back to the host once every
    `read_every` batches (default: the backend's :meth:`~engine.backend.Backend.batches_per_read`),
    and callbacks hear of those batches then; a diverged step goes back to the state of the
    last read. `capture` (default: the backend's `captures_steps`, where the run allows it)
    records the step once and replays it for each full batch (:mod:`engine.captured_step`); a
    run asked to capture that cannot, or whose capture fails, trains eagerly and says why in
    `History.notes`.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch size must be at least 1")
    if read_every is None:
        read_every = net.backend.batches_per_read(batch_size)
    if read_every < 1:
        raise ValueError("read_every must be at least 1")
    x, y = as_split(train)
    check_fits(net, (x, y), name="the training set")
    net.memory.check(batch_size)
    if validation is not None:
        check_fits(net, as_split(validation, test=True), name="the validation set")
    run = _Run(
        net,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer or SGD(),
        validation=validation,
        callbacks=callbacks,
        schedule=Schedule(schedule) if isinstance(schedule, str) else schedule,
        control=control,
        shuffle=shuffle,
        augment=augment,
        read_every=read_every,
        capture=capture,
    )
    for cb in callbacks:
        cb.on_train_begin(net, epochs, run.batches)
    with host_threads(net.backend, threads) as pool:
        try:
            for epoch in range(run.first, run.last):
                if not run.epoch(epoch, pool):
                    break
            return run.history
        except BaseException:  # a diverged step, an error or an interrupt mid-step
            run.last_good.restore()
            raise
        finally:
            for cb in callbacks:
                cb.on_train_end(run.history)
