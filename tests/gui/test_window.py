"""The window: editing, training in the worker thread, live views, files, settings, shutdown."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace

import numpy as np
import pytest
from gil_probe import gil_held, run_event_loop
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QWidget,
)

from engine import BatchInfo, Network
from engine import weights as weight_files
from engine.backend import gpu_unavailable_reason
from engine.limits import estimate
from engine.parallel import THREADS_VAR, default_threads
from engine.recipe import DEFAULT_RECIPE
from gui import session as session_module
from gui.settings_panel import window_threads
from gui.worker import LossUpdate

NAMES = (
    "trainButton",
    "pauseButton",
    "stopButton",
    "layerList",
    "learningRateSpin",
    "batchSizeSpin",
    "epochsSpin",
    "deviceCombo",
    "progressBar",
    "lossPlot",
    "accuracyPlot",
    "filterView",
    "featureMapView",
    "sampleIndexSpin",
)


def wait_until_finished(qtbot, win, timeout=60_000):
    qtbot.waitUntil(lambda: not win.trainer.running, timeout=timeout)


def wait_for_batches(qtbot, win, timeout=30_000):
    qtbot.waitUntil(lambda: win.last_batch is not None, timeout=timeout)


class BatchCounter:
    """Counts the batches the running worker starts after this, and tells when it waits out a
    pause: the training loop asks its control before every batch."""

    def __init__(self, win):
        control = win.trainer.worker.control
        checkpoint = control.checkpoint
        self.started = 0
        self.waiting = threading.Event()

        def counting(optimizer):
            if control.paused:
                self.waiting.set()
            paused_s = checkpoint(optimizer)
            if not control.stop_requested:
                self.started += 1
            return paused_s

        control.checkpoint = counting


def predictions(win):
    return win.session.net.predict_proba(win.session.dataset.test.x)


def open_data(qtbot, win, source, timeout=60_000):
    """Open a data set as the user does, and wait until it has loaded (or failed)."""
    win.open_dataset(source)
    qtbot.waitUntil(lambda: not win.loader.running, timeout=timeout)


def start(win, epochs=1, batch=32):
    win.settings_panel.epochs_spin.setValue(epochs)
    win.settings_panel.batch_spin.setValue(batch)
    win.run_bar.train_button.click()
    assert win.trainer.running


# -- opening and editing -----------------------------------------------------------------------


def test_window_opens_with_default_network(window):
    for name in NAMES:
        widget = window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    assert window.editor.layer_list.topLevelItemCount() == 6
    assert window.run_bar.train_button.isEnabled()
    assert not window.run_bar.pause_button.isEnabled() and not window.run_bar.stop_button.isEnabled()
    assert "85,670" in window.editor.total_label.text()
    assert window.device_label.text() == "CPU (NumPy)"
    assert "mnist-small" in window.data_label.text()
    assert window.filters_view.mosaic is not None
    assert len(window.feature_maps_view.shown_maps) == 6


def test_fresh_settings_are_the_default_recipe_on_a_core_fewer(window, monkeypatch):
    config = window.settings_panel.config()
    assert config == replace(DEFAULT_RECIPE, threads=window_threads())
    monkeypatch.delenv(THREADS_VAR, raising=False)
    assert window_threads() == max(1, default_threads() - 1)
    monkeypatch.setenv(THREADS_VAR, "3")
    assert window_threads() == default_threads() == 3


def test_the_thread_count_reaches_the_training_run(window, qtbot, monkeypatch):
    seen = []
    original = session_module.fit

    def fit(*args, **kwargs):
        seen.append(kwargs["threads"])
        return original(*args, **kwargs)

    monkeypatch.setattr(session_module, "fit", fit)
    window.settings_panel.threads_spin.setValue(2)
    start(window)
    wait_until_finished(qtbot, window)
    assert seen == [2]


def test_every_control_has_a_tooltip(window):
    kinds = (QAbstractButton, QSpinBox, QDoubleSpinBox, QComboBox)
    for widget in window.findChildren(QWidget):
        if isinstance(widget, kinds) and not widget.objectName().startswith("qt_"):
            assert widget.toolTip(), f"{type(widget).__name__} {widget.objectName()!r} has no tooltip"
    shortcuts = {a.objectName(): a.shortcut().toString() for a in window.actions()}
    assert shortcuts["trainAction"] == "F5"
    assert shortcuts["pauseAction"] == "F6"
    assert shortcuts["stopAction"] == "Shift+F5"
    assert shortcuts["saveWeightsAction"] == "Ctrl+S"


def test_editing_a_layer_updates_shapes_and_params(window):
    editor = window.editor
    editor.select_layer(0)
    editor.findChild(QSpinBox, "convFiltersEditor").setValue(8)
    row0 = editor.layer_list.topLevelItem(0)
    assert row0.text(1) == "8×24×24"
    assert row0.text(2) == f"{8 * 25 + 8:,}"
    assert window.session.net.params["layers.0.weight"].shape == (8, 1, 5, 5)
    editor.findChild(QSpinBox, "convPaddingEditor").setValue(-1)  # "same"
    assert editor.layer_list.topLevelItem(0).text(1) == "8×28×28"
    assert window.filters_view.layer_combo.count() == 2


def test_pool_size_and_stride_are_edited_as_height_and_width(window):
    """A rectangular window (network3's poolsize=(2, 3)) is set from its two spin boxes."""
    editor = window.editor
    editor.select_layer(1)
    editor.findChild(QSpinBox, "poolSizeWidthEditor").setValue(3)
    assert editor.spec()["layers"][1]["size"] == [2, 3]
    row1 = editor.layer_list.topLevelItem(1)
    assert "max 2×3, stride 2×3" in row1.text(0) and row1.text(1) == "20×12×8"
    assert editor.findChild(QSpinBox, "poolStrideWidthEditor").value() == 3  # the default: size
    assert window.session.net.params["layers.2.weight"].shape == (40, 20, 5, 5)
    assert editor.layer_list.topLevelItem(3).text(1) == "40×4×2"
    editor.findChild(QSpinBox, "poolStrideWidthEditor").setValue(2)
    assert editor.spec()["layers"][1]["stride"] == [2, 2]
    assert editor.layer_list.topLevelItem(1).text(1) == "20×12×11"
    editor.select_layer(3)  # another pool shows its own square size in both boxes
    assert editor.findChild(QSpinBox, "poolSizeHeightEditor").value() == 2
    assert editor.findChild(QSpinBox, "poolSizeWidthEditor").value() == 2
    editor.select_layer(1)
    assert editor.findChild(QSpinBox, "poolSizeWidthEditor").value() == 3


def test_impossible_edit_disables_train_and_marks_the_row(window):
    editor = window.editor
    editor.select_layer(0)
    kernel = editor.findChild(QSpinBox, "convKernelEditor")
    kernel.setValue(29)
    assert not window.run_bar.train_button.isEnabled()
    assert not window.acts.train.isEnabled()
    assert "does not fit its 28×28 input" in editor.problem_label.text()
    assert editor.problem_label.isVisible()
    assert "does not fit" in editor.layer_list.topLevelItem(0).toolTip(0)
    assert editor.layer_list.topLevelItem(5).text(1) == "—"
    window.acts.train.trigger()  # the shortcut's action does nothing either
    assert not window.trainer.running
    kernel.setValue(5)
    assert window.run_bar.train_button.isEnabled()
    assert editor.problem_label.text() == ""


def test_the_editor_shows_the_memory_and_refuses_a_network_beyond_the_limits(window, monkeypatch):
    editor = window.editor
    default = "Memory: parameters 335 KiB; activations 623 KiB per image in training"
    assert editor.memory_label.text() == default
    monkeypatch.setenv("CONVSCOPE_MAX_ACTIVATIONS", "4MiB")
    editor.select_layer(0)
    editor.findChild(QSpinBox, "convFiltersEditor").setValue(512)  # 512×24×24 maps: valid, but large
    assert editor.memory_label.text() == f"Memory: {estimate(editor.spec()).describe()}"
    assert "parameters 2.25 MiB" in editor.memory_label.text()  # 590,462 float32s
    assert editor.total_label.text() == "Total parameters: <b>590,462</b>"
    problem = editor.problem_label.text()
    assert "one image needs" in problem and "more than the limit of 4 MiB" in problem
    assert not window.run_bar.train_button.isEnabled()
    monkeypatch.delenv("CONVSCOPE_MAX_ACTIVATIONS")
    editor.findChild(QSpinBox, "convFiltersEditor").setValue(20)
    assert window.run_bar.train_button.isEnabled() and editor.problem_label.text() == ""


def test_add_reorder_and_remove_layers(window):
    editor = window.editor
    editor.select_layer(1)
    editor.add_buttons["conv"].click()
    assert editor.layer_list.topLevelItemCount() == 7
    assert editor.spec()["layers"][2]["type"] == "conv"
    assert editor.layer_list.topLevelItem(2).text(1) == "8×12×12"
    editor.findChild(QPushButton, "moveUpButton").click()
    assert editor.spec()["layers"][1]["type"] == "conv" and editor.current_row() == 1
    editor.findChild(QPushButton, "moveDownButton").click()
    ids = editor.layer_ids()
    editor.layer_list.reordered.emit([ids[1], ids[0], *ids[2:]])  # what a drag and drop reports
    assert [layer["type"] for layer in editor.spec()["layers"][:2]] == ["pool", "conv"]
    assert editor.is_valid()
    editor.select_layer(0)
    editor.findChild(QPushButton, "removeLayerButton").click()
    assert editor.layer_list.topLevelItemCount() == 6
    editor.select_layer(5)
    editor.findChild(QPushButton, "removeLayerButton").click()  # the output layer
    assert not window.run_bar.train_button.isEnabled()
    assert "softmax" in editor.problem_label.text()


def test_wrong_class_count_is_shown_and_blocks_training(window):
    window.editor.select_layer(5)
    window.editor.findChild(QSpinBox, "softmaxClassesEditor").setValue(5)
    assert not window.run_bar.train_button.isEnabled()
    assert "has 5 classes but the data set has 10" in window.editor.problem_label.text()


def test_edit_after_training_keeps_unchanged_layers(window, tmp_path):
    for value in window.session.net.params.values():
        value += 0.5  # stands in for learned weights
    path = str(tmp_path / "learned.safetensors")
    window.session.save_weights(path)
    window.open_weights(path)  # weights from a file count as learned
    before = window.session.net.state_dict()
    window.editor.select_layer(4)
    window.editor.findChild(QSpinBox, "denseUnitsEditor").setValue(50)
    after = window.session.net.state_dict()
    for key in ("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"):
        np.testing.assert_array_equal(after[key], before[key])
    assert after["layers.4.weight"].shape == (50, 640)
    assert window.last_notice == (
        "Re-initialised layers 4 (dense) and 5 (softmax): the change altered their weight shapes; "
        "layers 0 (conv) and 2 (conv) kept what they learned."
    )
    # moving a pool layer changes no weight shape: nothing is reset
    window.editor.select_layer(3)
    window.editor.findChild(QComboBox, "poolModeEditor").setCurrentText("mean")
    np.testing.assert_array_equal(
        window.session.net.state_dict()["layers.2.weight"], before["layers.2.weight"]
    )


# -- training ----------------------------------------------------------------------------------


def test_short_training_run_updates_loss_filters_and_feature_maps(window, qtbot):
    filters_before = window.filters_view.graphics.grab().toImage()
    kernels_before = window.session.net.state_dict()["layers.0.weight"]
    maps_before = [m.copy() for m in window.feature_maps_view.shown_maps]
    window.settings_panel.lr_spin.setValue(0.1)
    start(window, epochs=2)
    assert not window.editor.isEnabled() and window.run_bar.stop_button.isEnabled()
    wait_until_finished(qtbot, window)
    assert window.loss_plot.batches.size == 8  # 2 epochs × 4 batches
    assert window.loss_plot.validation.size == 2
    assert window.accuracy_plot.train.size == 2
    window.loss_plot.redraw()
    assert window.loss_plot.raw_curve.path().elementCount() == 8
    qtbot.waitUntil(lambda: window.run_bar.progress_bar.value() == 1000)
    assert window.last_error == ""
    assert not np.allclose(window.session.net.state_dict()["layers.0.weight"], kernels_before)
    assert any(
        not np.allclose(a, b) for a, b in zip(maps_before, window.feature_maps_view.shown_maps, strict=True)
    )
    qtbot.wait(50)
    filters_after = window.filters_view.graphics.grab().toImage()
    assert filters_after != filters_before, "the filter mosaic's pixels did not change"
    assert window.editor.isEnabled() and window.run_bar.train_button.isEnabled()


def test_live_snapshots_arrive_while_training(window, qtbot):
    received = []
    window.trainer.snapshotReady.connect(received.append)
    start(window, epochs=3)
    wait_until_finished(qtbot, window)
    assert received, "no filters/feature-map snapshot reached the GUI thread"
    snap = received[-1]
    assert all(isinstance(k, np.ndarray) for k in snap.kernels.values())
    assert snap.kernels[0] is not window.session.net.params["layers.0.weight"]  # a host copy


def test_pause_resume_and_stop(window, qtbot):
    start(window, epochs=200)
    wait_for_batches(qtbot, window)
    batches = BatchCounter(window)
    window.run_bar.pause_button.click()
    assert window.run_bar.pause_button.text() == "Resume"
    qtbot.waitUntil(batches.waiting.is_set, timeout=30_000)  # the batch in flight has ended
    paused_at = batches.started
    qtbot.wait(500)
    assert batches.started == paused_at, "training went on while paused"
    step = window.last_batch.step
    window.run_bar.pause_button.click()
    assert window.run_bar.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: window.last_batch.step > step, timeout=10_000)
    for _ in range(200):  # hammering pause/resume never deadlocks
        window.acts.pause.trigger()
    stopped_at = batches.started
    window.run_bar.stop_button.click()
    wait_until_finished(qtbot, window)
    assert batches.started - stopped_at <= 1, "training went on past the batch in flight"
    assert window.run_bar.progress_bar.format() == "stopped"
    assert window.run_bar.train_button.isEnabled()


def test_learning_rate_change_mid_run_reaches_the_trainer(window, qtbot):
    panel = window.settings_panel
    panel.schedule_combo.setCurrentIndex(panel.schedule_combo.findData("constant"))  # lr as set
    panel.lr_spin.setValue(0.03)
    start(window, epochs=200)
    wait_for_batches(qtbot, window)
    assert window.settings_panel.lr_spin.isEnabled()
    assert not window.settings_panel.batch_spin.isEnabled()
    window.settings_panel.lr_spin.setValue(0.0123)
    qtbot.waitUntil(lambda: abs(window.last_batch.lr - 0.0123) < 1e-9, timeout=10_000)
    window.stop_training()
    wait_until_finished(qtbot, window)
    assert window.trainer.worker is None


def test_an_exception_in_the_worker_shows_an_error_and_keeps_the_last_good_weights(
    window, qtbot, monkeypatch
):
    net = window.session.net
    calls = {"n": 0}
    gradients = net.batch_gradients  # what each training step calls (not net.backward since 6be2ae0)
    good = {}

    def failing_gradients(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # the second epoch's first step: the first epoch's end was read
            good.update(net.state_dict())
            raise RuntimeError("simulated failure in backward")
        return gradients(*args, **kwargs)

    monkeypatch.setattr(net, "batch_gradients", failing_gradients)
    start(window, epochs=2)
    wait_until_finished(qtbot, window)
    assert "simulated failure in backward" in window.last_error
    dialog = window.findChild(QMessageBox, "errorDialog")
    assert dialog is not None and dialog.isVisible()
    assert "RuntimeError" in dialog.text() and "in failing_gradients" in dialog.detailedText()
    for key, value in window.session.net.state_dict().items():
        np.testing.assert_array_equal(value, good[key])
    assert window.run_bar.train_button.isEnabled() and window.editor.isEnabled()
    assert window.run_bar.progress_bar.format() == "failed"


def test_divergence_is_reported_and_the_last_good_weights_stay(window, qtbot, monkeypatch):
    net = window.session.net
    scores, gradients = net._scores, net.batch_gradients
    steps = {"n": 0}
    good = {}

    def counted_gradients(*args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 5:  # the second epoch's first step: the first epoch's end was read
            good.update(net.state_dict())
        return gradients(*args, **kwargs)

    def diverging_scores(probs, y, batch):  # the compiled cross-entropy's path and NumPy's
        loss, right, grad = scores(probs, y, batch)
        return (loss * np.nan if steps["n"] == 5 else loss), right, grad

    monkeypatch.setattr(net, "batch_gradients", counted_gradients)
    monkeypatch.setattr(net, "_scores", diverging_scores)
    start(window, epochs=2)
    wait_until_finished(qtbot, window)
    assert "the loss became nan" in window.last_error
    for key, value in window.session.net.state_dict().items():
        np.testing.assert_array_equal(value, good[key])


def test_a_burst_of_fifty_thousand_worker_signals_is_survived(window, qtbot):
    """The batch signal crossing threads tens of thousands of times must not crash PySide6."""
    n = 50_000
    infos = [
        BatchInfo(
            epoch=1,
            epochs=1,
            batch=i + 1,
            batches=n,
            loss=2.0 - i / n,
            lr=0.1,
            step=i + 1,
            images_per_s=1000.0,
            eta_s=1.0,
        )
        for i in range(0, n, 1000)
    ]

    def emit_all():
        for i in range(n):
            window.trainer.lossUpdated.emit(LossUpdate([i / n], [2.0 - i / n], infos[i // 1000]))

    # The sender's allocations never run the cycle collector on its thread, where tearing down
    # widgets that earlier tests left behind deadlocked with the GUI thread's own deletions (seen as
    # a hang, with gdb): the GUI tests collect on the GUI thread only, as the app does
    # (gui.main_thread_gc).
    assert not gc.isenabled()
    sender = threading.Thread(target=emit_all)
    sender.start()
    qtbot.waitUntil(lambda: window.loss_plot.batches.size == n, timeout=60_000)
    sender.join()
    window.loss_plot.redraw()
    # 50,000 losses drawn as at most two points per pixel
    assert 0 < window.loss_plot.raw_curve.path().elementCount() <= 2 * window.loss_plot.width()
    qtbot.waitUntil(lambda: window.run_bar.progress_bar.value() > 0)


def test_progress_updates_repaint_without_holding_the_gil(window):
    """Set from Python, the bar repaints at once and holds the GIL the worker trains with."""
    window.run_bar.progress_bar.setMinimumSize(3000, 200)  # a repaint slow enough to see
    run_event_loop(100)
    steps = iter(range(1, 10_000))
    held = gil_held(lambda: window.run_bar.progress_bar.setValue(next(steps)), times=80, ms=5)
    released = gil_held(lambda: window.run_bar._progress.emit(next(steps)), times=80, ms=5)
    assert held > 0.05, "the bar repaints too fast to tell"
    assert released < held / 3, (released, held)
    assert window.run_bar.progress_bar.value() > 0


# -- the optimizer across runs -----------------------------------------------------------------


def test_training_again_continues_the_same_optimizer_with_the_panels_settings(window, qtbot):
    start(window, epochs=1)  # 128 images in batches of 32: 4 steps
    wait_until_finished(qtbot, window)
    optimizer = window.session.optimizer
    velocity = optimizer.state["layers.0.weight.velocity"]
    before = velocity.copy()
    assert optimizer.steps == 4
    window.settings_panel.lr_spin.setValue(0.01)
    window.settings_panel.l2_spin.setValue(1e-4)
    start(window, epochs=1)
    assert window.trainer.worker.optimizer is optimizer
    wait_until_finished(qtbot, window)
    assert window.session.optimizer is optimizer and optimizer.steps == 8
    assert optimizer.lr == 0.01 and optimizer.l2 == 1e-4
    assert optimizer.state["layers.0.weight.velocity"] is velocity  # updated in place, not restarted
    assert not np.array_equal(velocity, before)


def test_reset_edit_device_or_another_kind_start_a_fresh_optimizer(window, qtbot):
    def train_once():
        start(window, epochs=1)
        wait_until_finished(qtbot, window)
        assert window.session.optimizer is not None
        return window.session.optimizer

    first = train_once()
    window.acts.reset.trigger()
    assert window.session.optimizer is None
    assert train_once() is not first
    window.editor.select_layer(4)
    window.editor.findChild(QSpinBox, "denseUnitsEditor").setValue(50)
    assert window.session.optimizer is None
    sgd = train_once()
    window.settings_panel.optimizer_combo.setCurrentIndex(
        window.settings_panel.optimizer_combo.findData("adam")
    )
    window.settings_panel.lr_spin.setValue(1e-3)
    adam = train_once()
    assert adam is not sgd and adam.name == "adam" and adam.steps == 4
    window.settings_panel.device_combo.setCurrentIndex(window.settings_panel.device_combo.findData("auto"))
    assert window.session.optimizer is None


def test_picking_adam_gives_its_learning_rate_unless_one_was_chosen(window, qtbot):
    panel = window.settings_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    assert panel.lr_spin.value() == 1e-3
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    assert window.session.optimizer.name == "adam" and window.session.optimizer.lr == 1e-3
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("sgd"))
    assert panel.lr_spin.value() == DEFAULT_RECIPE.lr
    panel.lr_spin.setValue(0.05)
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    assert panel.lr_spin.value() == 0.05


def test_saved_optimizer_state_is_continued_after_opening_the_file(window, qtbot, tmp_path):
    """Save after one epoch, train a second: opening the file and training the second epoch again
    gives the same weights, which a fresh momentum would not."""
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    path = str(tmp_path / "net.safetensors")
    window.save_weights_as(path)
    saved = weight_files.read_header(path)
    assert saved["optimizer"]["steps"] == 4 and saved["training"]["dataset"]["name"] == "mnist-small"
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    continued = predictions(window)

    window.acts.reset.trigger()
    window.settings_panel.lr_spin.setValue(0.5)
    window.settings_panel.optimizer_combo.setCurrentIndex(
        window.settings_panel.optimizer_combo.findData("adam")
    )
    window.open_weights(path)
    assert window.last_error == ""
    assert window.session.optimizer is not None and window.session.optimizer.steps == 4
    assert window.settings_panel.config().optimizer == "sgd"  # the file's settings are shown again
    assert window.settings_panel.lr_spin.value() == DEFAULT_RECIPE.lr
    assert "sgd state" in window.last_notice
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    assert window.session.optimizer.steps == 8
    np.testing.assert_allclose(predictions(window), continued, rtol=1e-5, atol=1e-6)


# -- files -------------------------------------------------------------------------------------


def test_save_and_load_weights_through_the_window_give_identical_predictions(
    window, qtbot, tmp_path, monkeypatch
):
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    trained = predictions(window)
    path = str(tmp_path / "net.safetensors")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path[: -len(".safetensors")], ""))
    window.acts.save_weights.trigger()  # the first Ctrl+S asks where
    assert window.session.weights_path == path
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: pytest.fail("asked again"))
    window.acts.save_weights.trigger()  # and then saves again silently
    window.acts.reset.trigger()
    assert not np.allclose(predictions(window), trained)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (path, ""))
    window.acts.open_weights.trigger()
    np.testing.assert_array_equal(predictions(window), trained)
    assert window.recent.paths()[0] == path
    assert window.last_error == ""


def test_loading_weights_restores_their_network_into_the_editor(window, tmp_path):
    spec = window.editor.spec()
    spec["layers"][4]["units"] = 33
    path = tmp_path / "other.safetensors"
    weight_files.save(Network(spec, seed=3), path)
    window.open_weights(str(path))
    assert window.editor.spec()["layers"][4]["units"] == 33
    assert window.editor.layer_list.topLevelItem(4).text(1) == "33"
    assert window.session.net.params["layers.4.weight"].shape == (33, 640)


def test_a_bad_weight_file_shows_an_error_and_changes_nothing(window, tmp_path):
    before_net, before = window.session.net, predictions(window)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a weight file")
    window.open_weights(str(bad))
    assert str(bad) in window.last_error
    assert window.findChild(QMessageBox, "errorDialog").isVisible()
    assert window.session.net is before_net
    np.testing.assert_array_equal(predictions(window), before)
    assert window.session.weights_path is None


def test_weights_for_other_images_are_refused(window, tmp_path):
    spec = {
        "input": [3, 32, 32],
        "classes": 10,
        "layers": [{"type": "conv", "filters": 4, "kernel": 3}, {"type": "softmax"}],
    }
    path = tmp_path / "rgb.safetensors"
    weight_files.save(Network(spec), path)
    before_net = window.session.net
    window.open_weights(str(path))
    assert "3×32×32" in window.last_error and "1×28×28" in window.last_error
    assert window.session.net is before_net
    assert window.editor.layer_list.topLevelItemCount() == 6


def test_weights_with_more_outputs_than_classes_are_refused(window, tmp_path):
    """The CLI can evaluate them, but the window names every output's bar after a class."""
    path = tmp_path / "wide.safetensors"
    weight_files.save(Network({**window.session.net.spec, "classes": 12}), path)
    before_net = window.session.net
    window.open_weights(str(path))
    assert window.last_error == f"{path}: mnist-small has 10 classes but the network has 12"
    assert window.session.net is before_net


def test_network_json_round_trip(window, tmp_path, monkeypatch):
    path = str(tmp_path / "net.json")
    window.editor.select_layer(4)
    window.editor.findChild(QSpinBox, "denseUnitsEditor").setValue(42)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path, ""))
    window.acts.save_network.trigger()
    window.editor.findChild(QSpinBox, "denseUnitsEditor").setValue(7)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (path, ""))
    window.acts.open_network.trigger()
    assert window.editor.spec()["layers"][4]["units"] == 42
    (tmp_path / "broken.json").write_text("{not json")
    window.open_network(str(tmp_path / "broken.json"))
    assert "not valid JSON" in window.last_error
    assert window.editor.spec()["layers"][4]["units"] == 42


def test_opening_a_data_set_fits_the_network_or_refuses(window, tmp_path, qtbot):
    rng = np.random.default_rng(0)
    rgb = tmp_path / "rgb.npz"
    np.savez(rgb, x=rng.integers(0, 255, (60, 3, 16, 16), dtype=np.uint8), y=np.arange(60) % 4)
    open_data(qtbot, window, str(rgb))
    assert window.last_error == ""
    assert window.session.net.input_shape == (3, 16, 16) and window.session.net.classes == 4
    assert window.filters_view.mosaic.image.ndim == 3  # colour tiles for RGB filters
    assert str(rgb) in window.recent.paths()
    start(window, epochs=1, batch=16)
    wait_until_finished(qtbot, window)
    assert window.last_error == ""

    tiny = tmp_path / "tiny.npz"
    np.savez(tiny, x=rng.random((40, 1, 6, 6), dtype=np.float32), y=np.arange(40) % 2)
    open_data(qtbot, window, str(tiny))
    assert "does not fit" in window.last_error
    assert window.session.dataset.name == "rgb.npz"

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"nope")
    window.last_error = ""
    open_data(qtbot, window, str(garbage))
    assert window.last_error and window.session.dataset.name == "rgb.npz"


# -- views -------------------------------------------------------------------------------------


def test_sample_navigation_and_misclassified_images(qtbot, window):
    view = window.feature_maps_view
    view.next_button.click()
    assert view.index == 1
    view.prev_button.click()
    view.prev_button.click()
    assert view.index == 99
    view.misclassified_check.setChecked(True)
    qtbot.waitUntil(lambda: view.misclassified is not None, timeout=30_000)  # a pass on a pool thread
    wrong = view.misclassified
    assert wrong is not None and "misclassified" in view.status_label.text()
    if len(wrong):
        view.next_button.click()
        assert view.index in wrong
        view.random_button.click()
        assert view.index in wrong
    assert len(view.shown_maps) == 6
    np.testing.assert_allclose(
        view.shown_maps[-1],
        window.session.net.predict_proba(window.session.dataset.test.x[view.index : view.index + 1])[0],
    )


def test_misclassified_list_comes_from_each_epochs_validation_pass_off_the_gui_thread(
    window, qtbot, monkeypatch
):
    window.feature_maps_view.misclassified_check.setChecked(True)
    qtbot.waitUntil(lambda: window.feature_maps_view.misclassified is not None, timeout=30_000)
    threads, sent = [], []
    predict_proba = Network.predict_proba

    def recording(net, x, *args, **kwargs):
        threads.append(threading.current_thread())
        return predict_proba(net, x, *args, **kwargs)

    monkeypatch.setattr(Network, "predict_proba", recording)
    window.trainer.predictionsReady.connect(sent.append)
    start(window, epochs=2)
    wait_until_finished(qtbot, window)
    # One forward pass over the test set per epoch (the validation), none on the GUI thread,
    # and each epoch's predictions reach the list.
    assert len(threads) == 2 and threading.main_thread() not in threads
    assert len(sent) == 2
    wrong = np.flatnonzero(
        window.session.net.predict(window.session.dataset.test.x) != window.session.dataset.test.y
    )
    np.testing.assert_array_equal(window.feature_maps_view.misclassified, wrong)


def test_hovering_a_filter_tile_names_it(window, qtbot):
    view = window.filters_view
    mosaic = view.mosaic
    th, tw = mosaic.tile_shape
    col, row = 3 % mosaic.cols, 3 // mosaic.cols
    point = QPointF(col * (tw + 1) + tw / 2, row * (th + 1) + th / 2)
    qtbot.mouseMove(view.canvas, view.canvas.map_from_image(point).toPoint())
    assert view.hover_label.text().startswith("filter 3:")
    assert "weights from" in view.canvas.toolTip()


def test_layout_shows_full_layer_text_and_every_feature_map_panel(window, qtbot):
    layers = window.editor.layer_list
    assert window.width() == 1440
    assert layers.columnWidth(0) >= layers.sizeHintForColumn(0), "layer settings are cut off at 1440×900"
    view = window.feature_maps_view
    for size in ((1440, 900), (1024, 768)):
        window.resize(*size)

        def every_panel_visible():
            panels = [*view.panels, view.probabilities, view.color_bar]
            return all(view.graphics.rect().contains(p.geometry()) and p.isVisible() for p in panels)

        qtbot.waitUntil(every_panel_visible, timeout=10_000)
        assert len(view.panels) == 6 and view.columns in (3, 4)


def test_gpu_choice_is_greyed_out_with_the_reason(window):
    combo = window.settings_panel.device_combo
    reason = gpu_unavailable_reason()
    gpu = combo.model().item(combo.findData("gpu"))
    if reason is None:
        assert gpu.isEnabled()
    else:
        assert not gpu.isEnabled()
        assert gpu.toolTip() == reason


def test_settings_and_layout_are_remembered(qtbot, settings, small_data):
    from gui.main_window import MainWindow

    first = MainWindow(settings=settings, dataset=small_data)
    qtbot.addWidget(first)
    first.settings_panel.lr_spin.setValue(0.0456)
    first.settings_panel.batch_spin.setValue(17)
    first.settings_panel.optimizer_combo.setCurrentIndex(1)
    first.resize(1200, 800)
    first.show()
    first.findChild(QSplitter, "rightSplitter").setSizes([200, 500])
    first.close()
    second = MainWindow(
        settings=QSettings(settings.fileName(), QSettings.Format.IniFormat), dataset=small_data
    )
    qtbot.addWidget(second)
    second.show()
    assert second.settings_panel.lr_spin.value() == pytest.approx(0.0456)
    assert second.settings_panel.batch_spin.value() == 17
    assert second.settings_panel.config().optimizer == "adam"
    assert not second.settings_panel.momentum_spin.isEnabled()
    # the offscreen platform clamps restored geometry to its small screen, so allow some slack
    assert abs(second.findChild(QSplitter, "rightSplitter").sizes()[0] - 200) < 30
    assert settings.value("window/geometry") is not None


def test_a_first_start_fits_the_screen(qtbot, settings, small_data):
    """1440×900 on a laptop's 1366×768 put the window's bottom and its run bar off the screen;
    the offscreen platform's screen (800×800) is smaller still."""
    from gui.main_window import MainWindow

    window = MainWindow(settings=settings, dataset=small_data)
    qtbot.addWidget(window)
    window.show()
    room = window.screen().availableGeometry().size()
    assert room.height() < 900 and window.height() == room.height()
    assert window.width() == max(room.width(), window.minimumSizeHint().width())


def test_a_dock_opened_at_the_bottom_leaves_the_plots_readable(window, qtbot):
    """Qt gave a bottom dock half the window, leaving the loss and accuracy plots 68 px of 900;
    a dock the user opens takes a third at most."""
    window.runs_dock.show()
    plots = window.findChild(QSplitter, "plotSplitter")
    qtbot.waitUntil(lambda: window.runs_dock.height() <= window.height() * 0.35, timeout=10_000)
    assert plots.height() > 150


def test_a_dock_opened_at_the_side_gets_room_for_its_matrix(window, qtbot):
    """With the speed label beside the progress bar, the run bar's least width (900 px) left the
    Confusion dock 193 px of 1440, its header wrapped word by word."""
    window.confusion_dock.show()
    qtbot.waitUntil(lambda: window.confusion_dock.width() >= window.width() * 0.25, timeout=10_000)


def test_the_docks_shown_and_where_are_remembered(qtbot, settings, small_data):
    from gui.main_window import MainWindow

    first = MainWindow(settings=settings, dataset=small_data)
    qtbot.addWidget(first)
    first.show()
    first.runs_dock.show()
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.confusion_dock)
    first.confusion_dock.show()
    first.close()
    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    second = MainWindow(settings=again, dataset=small_data)
    qtbot.addWidget(second)
    second.show()
    assert second.runs_dock.isVisible() and second.runs_dock.built
    assert second.confusion_dock.isVisible()
    assert second.dockWidgetArea(second.confusion_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    qtbot.waitUntil(lambda: second.confusion_dock.view.table.rowCount() == 10, timeout=30_000)
    assert not second.explain_dock.isVisible() and not second.explain_dock.built


def test_closing_during_training_stops_the_worker_quickly(window, qtbot):
    start(window, epochs=200)
    wait_for_batches(qtbot, window)
    thread = window.trainer._thread
    batches = BatchCounter(window)
    closed_at = batches.started
    window.close()
    qtbot.waitUntil(lambda: not window.trainer.running, timeout=30_000)
    assert batches.started - closed_at <= 1, "training went on past the batch in flight"
    assert not window.isVisible()
    assert thread is None or not thread.isRunning()


def test_the_colour_bar_keeps_its_labels_while_the_filters_move_a_little(window):
    view = window.filters_view
    layer = view.layer_combo.currentData()
    weight = np.full((20, 1, 5, 5), 0.31, dtype=np.float32)
    view.show_kernels({layer: weight})
    assert view.color_bar.levels() == (-0.4, 0.4)
    labels = [text for _, text in view.color_bar.shown_ticks()]
    assert labels[0] == "-0.4" and labels[-1] == "0.4" and "0" in labels
    view.show_kernels({layer: weight * 1.1})
    assert view.color_bar.levels() == (-0.4, 0.4)
    assert [text for _, text in view.color_bar.shown_ticks()] == labels
    view.show_kernels({layer: weight * 1.5})
    assert view.color_bar.levels() == (-0.5, 0.5)


def test_the_progress_text_fits_with_every_dock_open(window, qtbot):
    """The run bar's progress text stays whole when the docks take their room beside the plots
    (it was cut to 95 px of its 229 at 1440 px wide)."""
    from PySide6.QtWidgets import QStyle, QStyleOptionProgressBar

    from engine.training import BatchInfo

    window.resize(1440, 900)
    for dock in (window.confusion_dock, window.runs_dock, window.explain_dock):
        dock.show()
    window.run_bar.show_paused(True)
    window.run_bar.show_batch(BatchInfo(12, 20, 160, 400, 0.5, 0.1, 100, 1000.0, 10.0))
    bar = window.run_bar.progress_bar
    qtbot.waitUntil(lambda: bar.text() == "paused · epoch 12/20 · batch 160/400")
    option = QStyleOptionProgressBar()
    bar.initStyleOption(option)
    label = bar.style().subElementRect(QStyle.SubElement.SE_ProgressBarLabel, option, bar)
    assert label.width() >= bar.fontMetrics().horizontalAdvance(bar.text())
    assert window.width() <= 1440


def test_each_batch_report_repaints_the_run_bar_alone(window, qtbot):
    """Speed, ETA and progress change 5 times a second while a run trains: neither the window's
    layout nor the widgets under the run bar are redone for them."""
    from PySide6.QtCore import QEvent, QObject

    from engine.training import BatchInfo

    class Seen(QObject):
        def __init__(self):
            super().__init__()
            self.events: list[tuple[str, str]] = []

        def eventFilter(self, watched, event):
            if event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Paint):
                self.events.append((type(watched).__name__, event.type().name))
            return False

    seen = Seen()
    bar = window.run_bar
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.loss_plot is not None)  # made just after the first show
    bar.show_batch(BatchInfo(1, 20, 1, 400, 0.5, 0.1, 1, 900.0, 1200.0))  # the run's first report
    qtbot.wait(100)
    bar.installEventFilter(seen)  # a relayout starts here; a repaint under the bar paints it
    for batch in range(2, 7):
        bar.show_batch(BatchInfo(1, 20, batch, 400, 0.5, 0.1, batch, 999.0 * batch, 1000.0 / batch))
        qtbot.wait(10)
    assert bar.rate_label.text().startswith("5,994 images/s")
    assert seen.events == [], seen.events
