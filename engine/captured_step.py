"""The training step as one replayable unit: the optimizer step on one full batch, with every
input and output in a persistent device buffer (the batch's indices and the learning rate in,
the batch's summed loss and correct answers out). The backend captures it once
(:attr:`engine.backend.Backend.capture`: a CUDA graph on the GPU, a plain rerun on the host) and
each later batch replays it, so on a GPU the step's Python and its launches cost one call."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from engine.network import Network
from engine.optim import Optimizer
from engine.parallel import Threads


def capture_problem(net: Network, optimizer: Optimizer, augmenting: bool) -> str | None:
    """Why this run's step cannot be replayed from a capture, or None: a replay repeats the
    captured kernels exactly, so nothing in the step may draw random numbers or compute on the
    host from step to step."""
    if not optimizer.capturable:
        return f"{optimizer.name}'s update computes its bias correction on the host each step"
    if any(getattr(layer, "dropout", 0) for layer in net.layers):
        return "dropout draws new masks each step"
    if augmenting:
        return "augmentation draws new variations each step"
    return None


def _where(exc: BaseException) -> str:
    """`exc`'s innermost frame in the engine's own code (the call that broke the capture), as
    ' at engine/path.py:line (code)', or ''."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}engine{os.sep}" in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    path = frame.filename[frame.filename.rindex(f"{os.sep}engine{os.sep}") + 1 :]
    return f" at {path}:{frame.lineno} ({(frame.line or '').strip()})"


class CapturedStep:
    """One full batch's optimizer step, run eagerly once (which creates the optimizer's state and
    compiles the kernels), then captured and replayed. A capture that fails leaves the step
    running eagerly through the same buffers, and says why in `notes`."""

    def __init__(
        self,
        net: Network,
        optimizer: Optimizer,
        x: Any,
        y: Any,
        batch_size: int,
        threads: Threads,
        notes: list[str],
    ):
        xp = net.xp
        self.net, self.optimizer, self.x, self.y, self.threads = net, optimizer, x, y, threads
        self.notes = notes
        self.indices = xp.zeros(batch_size, dtype=xp.int64)
        self.lr = xp.zeros((), dtype=net.dtype)
        #: The last step's summed loss and correct answers.
        self.out = xp.zeros(2, dtype=xp.float64)
        self._replay: Callable[[], None] | None = None
        self._warm = False
        self._written: list[Any] = []

    def _step(self) -> None:
        """The captured work: device operations on persistent buffers only, no host state."""
        rows = self.indices
        loss, right, grads = self.net.batch_gradients(
            self.x[rows], self.y[rows], [None] * self.threads.count, self.threads
        )
        self.optimizer.update(self.net.params, grads, self.lr, self.net.backend.step_kernels)
        self.out[0] = loss
        self.out[1] = right

    def __call__(self, rows: Any, lr: float) -> Any:
        """Train on the images `rows` (a device index array of the full batch size) at rate
        `lr`; returns :attr:`out`, which the next call overwrites."""
        self.indices[...] = rows
        self.lr.fill(lr)
        self.optimizer.steps += 1
        if self._replay is not None:
            self._replay()
        elif not self._warm:  # creates the optimizer's state and compiles the kernels
            self._warm = True
            self._step()
        else:
            self._capture()
        return self.out

    def _capture(self) -> None:
        try:
            replay = self.net.backend.capture(self._step)
            # A graph writes the arrays it was captured with; a batch of another shape (the
            # last, short one) replaces them in the layers' workspaces, so they are kept here.
            self._written = [a for layer in self.net.layers for a in layer.workspace_arrays()]
            replay()
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}{_where(exc)}"
            self.notes.append(f"capturing the training step failed ({why}); trained eagerly")
            self._replay = self._step
            self._step()
            return
        self._replay = replay
