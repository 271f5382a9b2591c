"""Training faults in the window: stop wins over pause in either order, and a network holding
NaN or infinite weights is never saved over a file."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox


def _start(window, qtbot):
    window.settings_panel.epochs_spin.setValue(200)
    window.run_bar.train_button.click()
    qtbot.waitUntil(lambda: window.last_batch is not None, timeout=30_000)


@pytest.mark.parametrize("order", [("stop", "pause"), ("pause", "stop"), ("pause", "stop", "pause")])
def test_stop_ends_the_run_whatever_pause_does(window, qtbot, order):
    _start(window, qtbot)
    buttons = {"stop": window.run_bar.stop_button, "pause": window.run_bar.pause_button}
    for name in order:
        buttons[name].click()
    qtbot.waitUntil(lambda: not window.trainer.running, timeout=60_000)  # only a hang reaches this
    assert window.run_bar.progress_bar.format() == "stopped" and window.last_error == ""
    assert window.run_bar.pause_button.text() == "Pause" and window.run_bar.train_button.isEnabled()


def test_diverged_weights_are_not_saved(window, monkeypatch, tmp_path):
    path = tmp_path / "m.safetensors"
    window.save_weights_as(str(path))
    before = path.read_bytes()
    window.session.net.params["layers.0.weight"][0, 0, 0, 0] = np.inf
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.acts.save_weights_as.trigger()
    (dialog,) = [box for box in window.findChildren(QMessageBox, "errorDialog") if box.isVisible()]
    assert f"{path}: not written: layers.0.weight hold NaN or infinite values" in dialog.text()
    assert path.read_bytes() == before
