"""Every file action of the window reports its failure in a dialog: a user's error as its message,
a bug with its traceback (also logged); none is swallowed and the window keeps what it had."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

import gui.session

ZERO_DIVISION = ZeroDivisionError("division by zero, planted")


def _bad_weights(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"this is not a weight file")
    return str(path), "not a readable .safetensors file"


def _bad_network(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    return str(path), "not valid JSON"


def _bad_npz(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"nope")
    return str(path), "is not an .npz archive"


def _empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty"), "holds no MNIST-format IDX files"


def _unwritable(name):
    def make(tmp_path):
        return str(tmp_path / "no such folder" / name), "does not exist"

    return make


#: action, the QFileDialog function it asks for a path, a bad file for it and what its error says,
#: and the function it calls that a planted bug replaces.
ACTIONS = {
    "open weights": (
        "open_weights",
        "getOpenFileName",
        _bad_weights,
        "weight_files.load_with_optimizer",
    ),
    "open network": ("open_network", "getOpenFileName", _bad_network, "load_spec"),
    "open data file": ("open_npz", "getOpenFileName", _bad_npz, "load_dataset"),
    "open data folder": ("open_folder", "getExistingDirectory", _empty_folder, "load_dataset"),
    "save weights": (
        "save_weights_as",
        "getSaveFileName",
        _unwritable("m.safetensors"),
        "weight_files.save",
    ),
    "save network": ("save_network", "getSaveFileName", _unwritable("net.json"), "save_spec"),
    "export": ("export", "getSaveFileName", _unwritable("net.onnx"), "Session.export"),
}


def _answer(monkeypatch, dialog_function, path):
    """The file dialog answers `path`, as a user picking it would."""
    answer = path if dialog_function == "getExistingDirectory" else (path, "")
    monkeypatch.setattr(QFileDialog, dialog_function, lambda *a, **k: answer)


def _dialogs(window):
    return [box for box in window.findChildren(QMessageBox, "errorDialog") if box.isVisible()]


def _unchanged(window):
    return (
        window.session.net,
        window.session.dataset,
        window.session.weights_path,
        window.session.net.predict_proba(window.session.dataset.test.x),
    )


def _assert_unchanged(window, before):
    net, dataset, weights_path, probs = before
    assert (
        window.session.net is net
        and window.session.dataset is dataset
        and window.session.weights_path == weights_path
    )
    np.testing.assert_array_equal(window.session.net.predict_proba(window.session.dataset.test.x), probs)


@pytest.mark.parametrize("name", ACTIONS)
def test_a_bad_file_shows_its_error_in_a_dialog(window, qtbot, monkeypatch, tmp_path, name):
    action, dialog_function, make_bad, _ = ACTIONS[name]
    path, cause = make_bad(tmp_path)
    _answer(monkeypatch, dialog_function, path)
    before = _unchanged(window)
    getattr(window.acts, action).trigger()
    qtbot.waitUntil(lambda: not window.loader.running)  # a data set loads on a thread of its own
    (dialog,) = _dialogs(window)
    assert cause in dialog.text()
    assert path in dialog.text() or path.rsplit("/", 1)[-1] in dialog.text()
    assert "unexpected" not in dialog.text() and not dialog.detailedText()
    _assert_unchanged(window, before)


@pytest.mark.parametrize("name", ACTIONS)
def test_a_bug_in_a_file_action_shows_and_logs_its_traceback(
    window, qtbot, monkeypatch, tmp_path, caplog, name
):
    action, dialog_function, _, called = ACTIONS[name]
    _answer(monkeypatch, dialog_function, str(tmp_path / "any.file"))

    def planted(*args, **kwargs):
        raise ZERO_DIVISION

    owner, _, attribute = called.rpartition(".")
    monkeypatch.setattr(getattr(gui.session, owner) if owner else gui.session, attribute, planted)
    before = _unchanged(window)
    with caplog.at_level(logging.ERROR, logger="convscope"):
        getattr(window.acts, action).trigger()
        qtbot.waitUntil(lambda: not window.loader.running)
    (dialog,) = _dialogs(window)
    assert "unexpected error" in dialog.text()
    assert "ZeroDivisionError: division by zero, planted" in dialog.text()
    assert "Traceback" in dialog.detailedText() and "in planted" in dialog.detailedText()
    (record,) = caplog.records
    assert record.exc_info[1] is ZERO_DIVISION
    _assert_unchanged(window, before)
