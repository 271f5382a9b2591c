"""The host's compiled kernels made ready on the training thread before a run's first batch.

Numba compiles a kernel on its first call (engine.jit), or loads it from its disk cache: on a
machine's first Train that took seconds before the first batch (tests/benchmarks/README.md,
first_train.py), with the run bar saying only "starting…", and the run's first speed and ETA
counted the compile. The training thread trains a copy of the network for one batch first, with
a new optimizer of the recipe's kind, and predicts a few test images as the snapshots and the
epoch's validation do: every kernel the run takes compiles then, while the window says so, and
the run's own batches, numbers and results are those it would have had. Qt-free."""

from __future__ import annotations

from typing import Any

from engine.training import fit
from gui.session import Run, build

#: What this process's kernels were made ready for (see `_key`).
_ready: set[tuple[Any, ...]] = set()
#: Test images predicted in the warm-up: more than one, as validation's passes are.
TEST_IMAGES = 16


def _key(run: Run) -> tuple[Any, ...]:
    """What decides which kernels a run compiles: its layers, the optimizer, the batch's size
    and the threads it is split over."""
    c = run.config
    return (repr(run.net.spec), c.optimizer, c.batch_size, c.threads, repr(c.augment))


def needed(run: Run) -> bool:
    """Whether `run` takes compiled kernels that this process has not yet made ready for it."""
    return run.net.backend.compiled and _key(run) not in _ready


def warm_up(run: Run) -> None:
    """Train a copy of the run's network one batch and predict a few test images with it; the
    network, the optimizer and everything the run reads stay as they were."""
    net = build(run.net.spec, seed=run.net.seed, init=run.net.init, device=run.net.backend)
    net.load_state_dict(run.net.state_dict())
    c = run.config
    x, y = run.dataset.train
    images = min(len(x), c.batch_size)
    test = run.dataset.test
    fit(
        net,
        c.augment.training_images(x[:images], y[:images]),
        batch_size=c.batch_size,
        optimizer=c.make_optimizer(),
        validation=(test.x[:TEST_IMAGES], test.y[:TEST_IMAGES]),
        threads=c.threads,
        augment=c.augment,
    )
    net.feature_maps(test.x[:1])  # a snapshot's one image
    _ready.add(_key(run))
