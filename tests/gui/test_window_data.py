"""The user's own data in and the trained network out, through the window: augmentation settings
that reach the training call and come back after a restart, opening an image folder off the GUI
thread with progress and Cancel, and exporting to ONNX."""

import json
import threading

import numpy as np
import onnxruntime
from PySide6.QtCore import QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QPushButton
from test_cifar import write_cifar
from test_session import write_image_folder
from test_window import start, wait_until_finished

from engine import fit
from engine.augment import Augment
from gui import data_loading
from gui import session as session_module
from gui.image_folder_dialog import ImageFolderDialog
from gui.preferences import Preferences
from gui.settings_panel import SettingsPanel


def _augment(panel: SettingsPanel, shift: int, rotate: float, flip: bool) -> None:
    panel.shift_spin.setValue(shift)
    panel.rotate_spin.setValue(rotate)
    panel.flip_check.setChecked(flip)


def test_augmentation_set_in_the_window_reaches_the_sessions_training_call(qtbot, window, monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["augment"])
        return fit(*args, **kwargs)

    monkeypatch.setattr(session_module, "fit", spy)
    _augment(window.settings_panel, 3, 12.5, True)
    start(window, epochs=1)
    assert window.statusBar().currentMessage().endswith("varying the images: shift 3 px, flip, rotate 12.5°…")
    assert not window.settings_panel.flip_check.isEnabled()  # locked while the run trains
    wait_until_finished(qtbot, window)
    assert calls == [Augment(shift=3, flip=True, rotate=12.5)]
    assert window.settings_panel.flip_check.isEnabled()


def test_augmentation_is_kept_in_the_preferences_as_plain_numbers(qtbot, settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    assert panel.config().augment == Augment()  # the default recipe varies nothing
    _augment(panel, 2, 10.0, True)
    panel.save(Preferences(settings))
    settings.sync()
    assert [settings.value(f"training/{k}") for k in ("shift", "rotate", "flip")] == [2, 10.0, 1]
    again = SettingsPanel()
    qtbot.addWidget(again)
    again.restore(Preferences(settings))
    assert again.config().augment == Augment(shift=2, flip=True, rotate=10.0)
    settings.setValue("training/flip", 7)  # damaged: the default stays, and the notice says so
    third = SettingsPanel()
    qtbot.addWidget(third)
    preferences = Preferences(settings)
    third.restore(preferences)
    assert third.config().augment == Augment(shift=2, rotate=10.0)
    assert "training/flip" in preferences.notice()


def test_network3s_expanded_set_is_a_window_setting_that_trains_on_five_times_the_images(
    qtbot, window, settings, monkeypatch
):
    sizes = []

    def spy(net, train, *args, **kwargs):
        sizes.append((len(train[0]), len(train[1]), kwargs["augment"]))
        return fit(net, train, *args, **kwargs)

    monkeypatch.setattr(session_module, "fit", spy)
    window.settings_panel.expand_check.setChecked(True)
    start(window, epochs=1)
    assert window.statusBar().currentMessage().endswith("varying the images: expanded ×5…")
    assert not window.settings_panel.expand_check.isEnabled()  # locked while the run trains
    wait_until_finished(qtbot, window)
    n = len(window.session.dataset.train.y)
    assert sizes == [(5 * n, 5 * n, Augment(expand=True))]
    window.settings_panel.save(Preferences(settings))
    settings.sync()
    assert settings.value("training/expand") == 1  # kept as a plain number


def _choose_folder(monkeypatch, folder) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))


def _answer_options(colour: str, size: tuple[int, int] | None) -> list[ImageFolderDialog]:
    """Answers the image folder dialog as the user would, once it is shown; returns it when shown."""
    shown = []

    def answer():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ImageFolderDialog)
        shown.append(dialog)
        dialog.colour_combo.setCurrentIndex(dialog.colour_combo.findData(colour))
        dialog.common_check.setChecked(size is None)
        if size is not None:
            dialog.height_spin.setValue(size[0])
            dialog.width_spin.setValue(size[1])
        dialog.accept()

    QTimer.singleShot(0, answer)
    return shown


def test_an_image_folder_opens_off_the_gui_thread_with_progress_options_and_skipped_files(
    qtbot, window, tmp_path, monkeypatch
):
    folder = write_image_folder(tmp_path / "pets", ("cat", "dog", "fox"), 4, broken=2)
    _choose_folder(monkeypatch, folder)
    threads, progress = [], []

    def load_data(*args):
        threads.append(threading.current_thread())
        return session_module.load_data(*args)

    monkeypatch.setattr(data_loading, "load_data", load_data)
    window.loader.progressed.connect(lambda done, total: progress.append((done, total)))
    shown = _answer_options("rgb", (28, 32))
    window.acts.open_folder.trigger()
    assert len(shown) == 1 and window.loader.running and window.loader.dialog.isVisible()
    qtbot.waitUntil(lambda: not window.loader.running, timeout=60_000)
    assert threads and threads[0] is not threading.main_thread()
    assert progress[-1] == (12, 12) and window.last_error == ""
    data = window.session.dataset
    assert data.name == "pets" and data.class_names == ("cat", "dog", "fox")
    assert len(data.train.y) + len(data.test.y) == 12 and data.input_shape == (3, 28, 32)
    assert window.data_label.text().startswith("pets · ")
    assert window.session.net.input_shape == (3, 28, 32) and window.session.net.classes == 3
    title = window.feature_maps_view.probabilities.title  # "predicted <b>dog</b> (..), true <b>cat</b>"
    assert title.split("true <b>")[1].removesuffix("</b>") in ("cat", "dog", "fox")
    assert "skipped 2 unreadable files: broken0.png (not an image Pillow can read), broken1.png" in (
        window.statusBar().currentMessage()
    )
    assert str(folder) in window.recent.paths()


def test_a_cifar_folder_opens_through_the_same_loader_with_a_step_per_file(
    qtbot, window, tmp_path, monkeypatch
):
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 4)) for _ in range(6)]
    write_cifar(tmp_path / "cifar-10-batches-py", "python", False, parts, [f"class {i}" for i in range(10)])
    _choose_folder(monkeypatch, tmp_path / "cifar-10-batches-py")
    progress = []
    window.loader.progressed.connect(lambda done, total: progress.append((done, total)))
    window.acts.open_folder.trigger()  # no image options: CIFAR is read as CIFAR
    qtbot.waitUntil(lambda: not window.loader.running, timeout=60_000)
    assert progress == [(i, 6) for i in range(1, 7)] and window.last_error == ""
    data = window.session.dataset
    assert data.name == "cifar-10-batches-py" and data.input_shape == (3, 32, 32)
    assert (len(data.train.y), len(data.test.y)) == (20, 4) and data.class_names[9] == "class 9"
    assert window.session.net.input_shape == (3, 32, 32)


def test_cancelling_a_load_keeps_the_data_set_in_use(qtbot, window, tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path / "pets", ("cat", "dog"), 30)
    _choose_folder(monkeypatch, folder)
    before, network = window.session.dataset, window.session.net
    read, reading, release = [], threading.Event(), threading.Event()

    def load_data(source, options, progress, cancelled):
        def held(done, total):  # holds the load after its first image until the test cancels
            read.append(done)
            reading.set()
            release.wait(30)
            progress(done, total)

        return session_module.load_data(source, options, held, cancelled)

    monkeypatch.setattr(data_loading, "load_data", load_data)
    _answer_options("auto", None)
    window.acts.open_folder.trigger()
    qtbot.waitUntil(reading.is_set, timeout=30_000)
    window.loader.dialog.findChild(QPushButton).click()  # the dialog's Cancel
    release.set()
    qtbot.waitUntil(lambda: not window.loader.running, timeout=30_000)
    assert read == [1]  # the engine stopped at the next image
    assert window.session.dataset is before and window.session.net is network
    assert window.last_error == "" and window.data_label.text().startswith("mnist-small · ")
    assert window.last_notice == "Cancelled loading pets; the data set is still mnist-small."


def test_file_export_writes_an_onnx_model_that_onnx_runtime_agrees_with(qtbot, window, tmp_path, monkeypatch):
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    answer = (str(tmp_path / "digits"), "ONNX model (*.onnx)")  # the name without its suffix
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: answer)
    window.acts.export.trigger()
    path = tmp_path / "digits.onnx"
    assert window.last_error == "" and window.last_notice.startswith(f"Exported the network to {path}; ")
    x = window.session.dataset.test.x
    runtime = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = window.session.net.predict_proba(x)
    np.testing.assert_allclose(runtime.run(None, {"images": x})[0], expected, atol=1e-5)

    answer = (str(tmp_path / "digits"), "PyTorch source (*.py)")
    window.acts.export.trigger()  # the trained weights are in no file yet
    (box,) = [b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible()]
    assert box.windowTitle() == "Cannot export the network" and "save the weights" in box.text()
    assert not (tmp_path / "digits.py").exists()


def test_an_npz_whose_images_read_two_ways_asks_which_and_loads_that_reading(
    qtbot, window, tmp_path, answers
):
    """(N, 3, 8, 3) is 3 channels of 8×3 or 3×8 images with 3 channels: the window asks, where the
    command line refuses and names its --layout option; Cancel keeps the data set in use."""
    layers = [{"type": "dense", "units": 8}, {"type": "softmax"}]
    spec = {"input": [1, 28, 28], "classes": 10, "layers": layers}
    (tmp_path / "dense.json").write_text(json.dumps(spec))
    window.open_network(str(tmp_path / "dense.json"))  # a network any image size fits
    rng = np.random.default_rng(0)
    path = tmp_path / "both.npz"
    np.savez(path, x=rng.random((40, 3, 8, 3), dtype=np.float32), y=np.arange(40) % 4)
    before = window.session.dataset
    answers.queued = ["cancel"]
    window.open_dataset(str(path))
    qtbot.waitUntil(lambda: len(answers.asked) == 1 and not window.loader.running, timeout=30_000)
    title, text = answers.asked[0]
    assert title == "How are the images stored?"
    assert "channels first, NCHW" in text and "channels last, NHWC" in text and "--layout" not in text
    assert window.session.dataset is before and window.last_error == ""
    for answer, shape in (("nhwc", (3, 3, 8)), ("nchw", (3, 8, 3))):
        answers.queued = [answer]
        window.open_dataset(str(path))
        qtbot.waitUntil(lambda shape=shape: window.session.dataset.input_shape == shape, timeout=30_000)
        qtbot.waitUntil(lambda: not window.loader.running, timeout=30_000)
        assert window.session.dataset.name == "both.npz" and window.session.net.input_shape == shape
        assert window.last_error == ""


def test_text_from_files_is_shown_as_text_never_read_as_html(qtbot, window, tmp_path, monkeypatch):
    """Qt reads text that looks like HTML as HTML, and `<img src="/dev/zero">` in a class name, a
    data set's name or a network file read that file into memory until the window was killed.
    Here the image is a 400 px PNG: read as HTML, it would make the label 400 px high."""
    from PIL import Image
    from PySide6.QtWidgets import QLabel

    monkeypatch.chdir(tmp_path)  # where Qt looks for the image a relative src names
    Image.new("L", (400, 400)).save(tmp_path / "big.png")
    img = '<img src="big.png">'
    rng = np.random.default_rng(0)
    data = tmp_path / f"{img}.npz"
    np.savez(data, x=rng.random((40, 28, 28), dtype=np.float32), y=np.arange(40) % 2, class_names=[img, "b"])
    window.open_dataset(str(data))
    qtbot.waitUntil(lambda: not window.loader.running, timeout=60_000)
    assert window.session.dataset.class_names == (img, "b")
    network = tmp_path / "net.json"
    network.write_text(json.dumps({"input": [1, 28, 28], "classes": 2, "layers": [{"type": img}]}))
    window.open_network(str(network))
    assert img in window.last_error
    window.feature_maps_view.repaint()
    title = QTextDocument()
    title.setHtml(window.feature_maps_view.probabilities.title)  # as drawn
    assert img in title.toPlainText()
    labels = window.findChildren(QLabel) + [
        box.findChild(QLabel, "qt_msgbox_label") for box in window.findChildren(QMessageBox)
    ]
    shown = [label for label in labels if img in label.text()]
    assert {label.objectName() for label in shown} >= {"dataLabel", "qt_msgbox_label"}
    for label in shown:
        assert label.sizeHint().height() < 200, f"{label.objectName()} read its text as HTML"
