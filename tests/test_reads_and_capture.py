"""Reading training's numbers back once per `read_every` batches, and the captured step
(engine/captured_step.py) replayed for each full batch: both train exactly as the step-by-step
eager loop does, on NumPy and on the strict backend (`--device strict`); a GPU replays a CUDA
graph where these tests replay by rerunning (tests/benchmarks/gpu_check.py checks the GPU)."""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import pytest

from engine import SGD, Adam, Callback, Network, TrainingControl, TrainingDiverged, fit
from engine.augment import Augment
from engine.backend import GPU_IMAGES_PER_READ, NUMPY, Backend, rerun

SPEC = {
    "input": [1, 8, 8],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 8, "activation": "relu"},
        {"type": "softmax"},
    ],
}
#: 11 batches of 16 and a last one of 4.
IMAGES, BATCH = 180, 16


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((IMAGES, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, IMAGES)


class Batches(Callback):
    def __init__(self) -> None:
        self.infos: list[tuple] = []

    def on_batch_end(self, info) -> None:
        self.infos.append((info.epoch, info.batch, info.loss, info.lr, info.step, info.train_acc))


def _train(device, spec=SPEC, optimizer=None, data=None, **kwargs):
    net = Network(spec, seed=2, device=device)
    opt = optimizer or SGD(lr=0.05)
    seen = Batches()
    history = fit(net, data or _data(), epochs=2, batch_size=BATCH, optimizer=opt, callbacks=[seen],
                  schedule="cosine", threads=1, **kwargs)
    return net, opt, history, seen


def _assert_same_run(a, b) -> None:
    (net_a, opt_a, hist_a, seen_a), (net_b, opt_b, hist_b, seen_b) = a, b
    assert hist_a.batch_loss == hist_b.batch_loss
    scores = [[(e.train_loss, e.train_acc) for e in h.epochs] for h in (hist_a, hist_b)]
    assert scores[0] == scores[1]
    assert seen_a.infos == seen_b.infos
    assert opt_a.steps == opt_b.steps
    for mine, theirs in ((net_a.state_dict(), net_b.state_dict()),
                         (opt_a.state_dict(net_a.backend), opt_b.state_dict(net_b.backend))):
        assert mine.keys() == theirs.keys()
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k], err_msg=k)


@pytest.mark.parametrize("options", [{"read_every": 5}, {"read_every": 100}, {"capture": True},
                                     {"capture": True, "read_every": 4}])
def test_batched_reads_and_the_captured_step_train_as_step_by_step(device, options):
    eager = _train(device, read_every=1)
    _assert_same_run(eager, _train(device, **options))
    assert len(eager[3].infos) == 24  # every batch reported, in order


def test_a_data_set_already_on_the_device_trains_as_one_sent_there(device):
    x, y = _data()
    resident = (device.to_device(x), device.to_device(y))
    _assert_same_run(_train(device), _train(device, data=resident, capture=True))


def _counting_host_reads(monkeypatch) -> list[int]:
    reads = []
    to_host = Backend.to_host

    def counted(self, a):
        reads.append(1)
        return to_host(self, a)

    monkeypatch.setattr(Backend, "to_host", counted)
    return reads


@pytest.mark.parametrize(("read_every", "reads"), [(1, 24), (5, 6), (12, 2), (50, 2)])
def test_one_host_read_per_read_every_batches_and_at_each_epochs_end(device, monkeypatch, read_every, reads):
    counted = _counting_host_reads(monkeypatch)
    _train(device, read_every=read_every)
    assert len(counted) == reads


def test_the_gpu_reads_once_per_display_tick_and_the_host_every_256_images():
    gpu_like = dataclasses.replace(NUMPY, images_per_read=GPU_IMAGES_PER_READ)
    assert [gpu_like.batches_per_read(b) for b in (64, 1024, 4096)] == [32, 2, 1]
    assert [NUMPY.batches_per_read(b) for b in (1, 10, 32, 64, 256, 500)] == [256, 25, 8, 4, 1, 1]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_divergence_between_reads_goes_back_to_the_last_read(device, host_kernels):
    net = Network(SPEC, seed=2, device=device)
    opt = SGD(lr=0.05)
    fit(net, _data(), epochs=1, batch_size=BATCH, optimizer=opt, read_every=3)
    before = net.state_dict()
    steps = opt.steps
    opt.lr = 1e30  # overflows at the first step
    with pytest.raises(TrainingDiverged, match=r"at epoch 2, batch [123] \(learning rate 1e\+30\)"):
        fit(net, _data(), epochs=1, batch_size=BATCH, optimizer=opt, read_every=3)
    after = net.state_dict()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)
    assert opt.steps == steps


class _StopBefore(TrainingControl):
    """Asks to stop before batch `batch` (1-based) of the first epoch."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.checks, self.batch = 0, batch

    def checkpoint(self, optimizer) -> float:
        self.checks += 1
        if self.checks == self.batch:
            self.stop()
        return super().checkpoint(optimizer)


def test_a_stop_between_reads_reports_the_batches_trained_since_the_last(device):
    net, opt, history, seen = _train(device, read_every=3, control=_StopBefore(6))
    assert history.stopped == "stopped"
    assert [b for _, b, *_ in seen.infos] == [1, 2, 3, 4, 5]
    assert opt.steps == 5 and len(history.batch_loss) == 5


def _counting_capture(counts: dict[str, int]):
    def capture(step):
        counts["captures"] += 1
        replay = rerun(step)

        def counted():
            counts["replays"] += 1
            replay()

        return counted

    return capture


def test_the_step_is_captured_once_and_replayed_for_every_later_full_batch(device):
    counts = {"captures": 0, "replays": 0}
    # A backend that captures by default (fit's capture=None), as the GPU's may.
    backend = dataclasses.replace(device, capture=_counting_capture(counts), captures_steps=True)
    _, _, history, _ = _train(backend)
    # 11 full batches an epoch: the first runs eagerly, the rest replay; the last short batch runs eagerly.
    assert counts == {"captures": 1, "replays": 21}
    assert history.notes == []


def test_a_capture_that_fails_trains_eagerly_and_says_where(device):
    def failing(step):
        raise RuntimeError("stream capture unsupported")

    backend = dataclasses.replace(device, capture=failing)
    run = _train(backend, capture=True)
    (note,) = run[2].notes
    assert note.startswith("capturing the training step failed (RuntimeError: stream capture unsupported "
                           "at engine/captured_step.py:")
    assert note.endswith(" (replay = self.net.backend.capture(self._step))); trained eagerly")
    _assert_same_run(_train(device), run)


def test_a_call_that_breaks_the_capture_is_named(device):
    """The call inside the step that a capture refused (CuPy's cuBLAS, on the GPU) is named by
    the engine's innermost line, so a failed capture says what to change."""

    def refusing(step):
        def matmul(*args, **kwargs):
            raise NotImplementedError("calling cuBLAS API during stream capture is currently unsupported")

        device.xp.matmul = matmul  # shadows the module's, for this call of the step only
        try:
            step()
        finally:
            del device.xp.matmul
        return step

    run = _train(dataclasses.replace(device, capture=refusing), capture=True)
    (note,) = run[2].notes
    assert note.startswith("capturing the training step failed (NotImplementedError: calling cuBLAS API")
    assert " at engine/layers/base.py:" in note and "(return self.xp.matmul(a, b, out=out))" in note


@pytest.mark.parametrize(("case", "why"), [
    ("adam", "adam's update computes its bias correction on the host each step"),
    ("dropout", "dropout draws new masks each step"),
    ("augment", "augmentation draws new variations each step"),
])
def test_a_step_that_draws_or_computes_on_the_host_is_not_captured(device, case, why):
    dropout = {"type": "dense", "units": 8, "dropout": 0.5}
    spec = {**SPEC, "layers": [*SPEC["layers"][:2], dropout, SPEC["layers"][3]]}
    kwargs = {"optimizer": Adam()} if case == "adam" else {"spec": spec} if case == "dropout" else {
        "augment": Augment(shift=1)
    }
    counts = {"captures": 0, "replays": 0}
    backend = dataclasses.replace(device, capture=_counting_capture(counts))
    _, _, history, _ = _train(backend, capture=True, **kwargs)
    assert history.notes == [f"the training step was not captured: {why}"]
    # Where the backend captures by default, such a run trains eagerly without a word.
    _, _, history, _ = _train(dataclasses.replace(backend, captures_steps=True), **kwargs)
    assert history.notes == []
    assert counts["captures"] == 0


def test_the_arrays_a_captured_step_writes_outlive_a_short_batch_that_replaces_them():
    """A backend that keeps workspaces: the short last batch puts arrays of its own shape in the
    layers' workspaces, and a CUDA graph would go on writing the full batch's, so the captured
    step keeps those alive (a freed one could be handed to other data)."""
    captured: list[weakref.ref] = []

    def capture(step):
        def replay():
            if not captured:  # the workspaces as the capture left them
                captured.extend(weakref.ref(a) for layer in net.layers for a in layer.workspace_arrays())
            step()

        return replay

    net = Network(SPEC, seed=2, device=dataclasses.replace(NUMPY, capture=capture))
    fit(net, _data(), epochs=1, batch_size=BATCH, optimizer=SGD(lr=0.05), capture=True, threads=1)
    assert captured and all(ref() is not None for ref in captured)
