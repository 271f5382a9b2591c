"""A launch's first Train, as the user meets it: the host's compiled kernels are made ready on
the training thread before the first batch, and the run bar says so while they are."""

from __future__ import annotations

from test_window import start

from engine import jit
from gui import kernel_warmup

PREPARING = "preparing the compiled CPU kernels…"


def _train_until_the_first_batch(window, qtbot) -> list[tuple[str, object]]:
    """What the run said, in order, until its first batch; then it is stopped."""
    said: list[tuple[str, object]] = []
    bar = window.run_bar.progress_bar
    window.trainer.warming.connect(lambda: said.append(("warming", bar.format())))
    window.trainer.lossUpdated.connect(lambda update: said.append(("batch", bar.format())))
    start(window, epochs=1, batch=16)
    qtbot.waitUntil(lambda: any(kind == "batch" for kind, _ in said), timeout=120_000)
    window.trainer.stop()
    qtbot.waitUntil(lambda: not window.trainer.running, timeout=60_000)
    return said


def test_the_first_run_makes_its_kernels_ready_before_its_first_batch_and_says_so(window, qtbot, monkeypatch):
    monkeypatch.setattr(kernel_warmup, "_ready", set())  # this process's first run
    said = _train_until_the_first_batch(window, qtbot)
    assert window.session.net.backend.compiled == jit.enabled()
    kinds = [kind for kind, _ in said]
    if jit.enabled():
        assert said[0] == ("warming", PREPARING) and kinds.count("warming") == 1
    else:  # NumPy's code alone: nothing to make ready
        assert "warming" not in kinds
    assert said[-1][0] == "batch" and said[-1][1].startswith("epoch 1/1 · batch ")  # said then
    again = _train_until_the_first_batch(window, qtbot)  # the same network and recipe: ready
    assert "warming" not in [kind for kind, _ in again]
