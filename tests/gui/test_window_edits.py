"""The window keeps the user's work: edits applied when finished, undo and redo, a new data set
starts a new run, Train after a run asks, pause is shown, and nothing trained is thrown away
without asking. Each test drives the real widgets and checks what they show."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QPushButton, QSpinBox
from test_window import BatchCounter, open_data, start, wait_for_batches, wait_until_finished

from engine.spec import default_spec_for
from gui import network_editor


def weights(win) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in win.session.net.state_dict().items()}


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def train(win, qtbot, epochs=1):
    start(win, epochs=epochs)
    wait_until_finished(qtbot, win)


def count_edits(win, monkeypatch) -> list:
    edits = []
    edit = win.session.edit

    def counted(spec, ids):
        edits.append(spec)
        return edit(spec, ids)

    monkeypatch.setattr(win.session, "edit", counted)
    return edits


def kernel_spin(win) -> QSpinBox:
    win.editor.select_layer(0)
    return win.editor.findChild(QSpinBox, "convKernelEditor")


def type_into(qtbot, spin: QSpinBox, text: str) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)


# -- edits -------------------------------------------------------------------------------------


def test_typing_a_number_applies_one_edit_when_it_is_finished(window, qtbot, monkeypatch):
    edits = count_edits(window, monkeypatch)
    spin = kernel_spin(window)
    type_into(qtbot, spin, "12")
    assert edits == [] and window.session.spec["layers"][0]["kernel"] == 5  # no kernel 1 on the way
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert [spec["layers"][0]["kernel"] for spec in edits] == [12]
    assert window.editor.layer_list.topLevelItem(0).text(1) == "20×17×17"
    assert window.session.net.params["layers.0.weight"].shape == (20, 1, 12, 12)


def test_an_invalid_number_keeps_the_last_valid_network_and_the_views_say_so(window, qtbot, monkeypatch):
    edits = count_edits(window, monkeypatch)
    filters_box = window.filters_view.parentWidget()
    assert filters_box.title() == "Learned filters" and filters_box.isEnabled()
    spin = kernel_spin(window)
    type_into(qtbot, spin, "29")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert edits == []  # kernel 2 was never applied on the way to 29
    assert window.session.net.params["layers.0.weight"].shape == (20, 1, 5, 5)
    assert filters_box.title() == "Learned filters — of the last valid network"
    assert not filters_box.isEnabled()
    maps_box = window.feature_maps_view.parentWidget()
    assert maps_box.title() == "Feature maps — of the last valid network" and not maps_box.isEnabled()
    type_into(qtbot, spin, "3")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert filters_box.title() == "Learned filters" and filters_box.isEnabled()
    assert window.session.net.params["layers.0.weight"].shape == (20, 1, 3, 3)


def test_a_pause_in_typing_applies_the_number(window, qtbot, monkeypatch):
    spin = kernel_spin(window)
    pause = spin.findChild(QTimer)
    assert pause.interval() == network_editor.PAUSE_MS
    pause.setInterval(50)
    edits = count_edits(window, monkeypatch)
    type_into(qtbot, spin, "7")
    assert edits == []
    qtbot.waitUntil(lambda: len(edits) == 1, timeout=10_000)
    assert window.session.spec["layers"][0]["kernel"] == 7


def test_problems_do_not_move_the_editors_controls(window, qtbot):
    editor = window.editor
    controls = [
        *editor.add_buttons.values(),
        editor.findChild(QPushButton, "moveUpButton"),
        editor.findChild(QPushButton, "moveDownButton"),
        editor.findChild(QPushButton, "removeLayerButton"),
        editor.field_stack,
    ]

    def places():
        return [control.mapTo(window, control.rect().topLeft()) for control in controls]

    before = places()
    editor.select_layer(5)
    editor.findChild(QSpinBox, "softmaxClassesEditor").setValue(5)
    kernel_spin(window).setValue(29)  # two problems now
    qtbot.wait(10)
    assert "does not fit" in editor.problem_label.text() and "5 classes" in editor.problem_label.text()
    assert editor.problem_label.isVisible()
    assert places() == before


def test_undo_restores_the_previous_network_and_its_weights_and_redo_the_edit(window, qtbot):
    assert not window.acts.undo.isEnabled() and window.acts.undo.shortcut().toString() == "Ctrl+Z"
    assert window.acts.redo.shortcut().toString() == "Ctrl+Shift+Z"
    train(window, qtbot)
    trained = weights(window)
    window.editor.select_layer(4)
    window.editor.findChild(QSpinBox, "denseUnitsEditor").setValue(50)  # layers 4 and 5 start afresh
    edited = weights(window)
    assert edited["layers.4.weight"].shape == (50, 640)
    assert window.acts.undo.isEnabled()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window.editor.layer_list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert_same_weights(weights(window), trained)
    assert window.editor.layer_list.topLevelItem(4).text(1) == "100"
    assert window.editor.current_row() == 4  # the layer edited stays selected, showing its units
    assert window.editor.findChild(QSpinBox, "denseUnitsEditor").value() == 100
    assert window.editor.spec() == window.session.spec
    assert window.last_notice.startswith("Undid the last network edit")
    assert window.acts.redo.isEnabled() and not window.acts.undo.isEnabled()
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.editor.layer_list, Qt.Key.Key_Z, ctrl_shift)
    assert_same_weights(weights(window), edited)
    assert window.editor.layer_list.topLevelItem(4).text(1) == "50"


def test_restore_default_network_replaces_the_network_and_undo_brings_it_back(window):
    window.editor.select_layer(1)
    window.editor.add_buttons["conv"].click()
    assert window.editor.layer_list.topLevelItemCount() == 7
    window.acts.restore_default.trigger()
    data = window.session.dataset
    assert window.editor.spec() == default_spec_for(data.input_shape, data.classes)
    assert window.editor.layer_list.topLevelItemCount() == 6
    assert window.last_notice.startswith("Restored the default network")
    window.acts.undo.trigger()
    assert window.editor.layer_list.topLevelItemCount() == 7
    assert window.editor.spec()["layers"][2]["type"] == "conv"


# -- data sets and runs ------------------------------------------------------------------------


def five_classes(path, small_data) -> str:
    x, y = small_data.train.x, small_data.train.y % 5
    np.savez(path, x=x, y=y, x_test=small_data.test.x, y_test=small_data.test.y % 5)
    return str(path)


def test_a_new_data_set_starts_a_new_run_and_says_which_layers_kept_their_weights(
    window, qtbot, small_data, tmp_path
):
    train(window, qtbot)
    assert len(window.accuracy_plot.train.x) == 1
    kept = weights(window)["layers.0.weight"]
    open_data(qtbot, window, five_classes(tmp_path / "five.npz", small_data))
    assert window.statusBar().currentMessage() == (
        "Opened the data set five.npz; a new run begins on it. Re-initialised layer 5 (softmax): "
        "the change altered its weight shapes; layers 0 (conv), 2 (conv) and 4 (dense) kept what "
        "they learned."
    )
    assert len(window.accuracy_plot.train.x) == 0 and window.run_bar.progress_bar.format() == "ready"
    np.testing.assert_array_equal(weights(window)["layers.0.weight"], kept)
    window.last_batch = None
    start(window)
    wait_for_batches(qtbot, window)
    assert window.last_batch.epoch == 1 and window.last_batch.epochs == 1
    wait_until_finished(qtbot, window)
    assert list(window.accuracy_plot.train.x) == [1]


@pytest.mark.parametrize(
    ("answer", "first_epoch", "kept"), [("continue", 2, True), ("restart", 1, False), ("cancel", None, True)]
)
def test_train_after_a_finished_run_asks_whether_to_continue(
    window, qtbot, answers, answer, first_epoch, kept
):
    train(window, qtbot)
    trained = weights(window)
    window.last_batch = None
    answers.queued = [answer]
    window.settings_panel.epochs_spin.setValue(3)
    # the first report's epochs, whatever the run has reached by the time the test looks
    reported = []
    window.trainer.lossUpdated.connect(lambda update: reported.extend(update.x))
    window.run_bar.train_button.click()
    title, text = answers.asked[-1]
    assert title == "Train" and "has trained 1 epoch." in text
    assert "train epochs 2 to 4" in text and "epochs 1 to 3" in text
    if first_epoch is None:
        assert not window.trainer.running and window.run_bar.progress_bar.format() == "done"
        assert_same_weights(weights(window), trained)
        return
    qtbot.waitUntil(lambda: bool(reported), timeout=30_000)
    assert first_epoch - 1 < reported[0] <= first_epoch  # the first batch's fractional epoch
    window.stop_training()
    wait_until_finished(qtbot, window)
    assert window.session.history.start_epoch == first_epoch - 1
    assert window.last_notice.startswith("Weights re-initialised from seed") != kept


def test_the_settings_that_change_a_continued_run_say_what_they_do(window):
    for widget in (window.settings_panel.epochs_spin, window.settings_panel.schedule_combo):
        assert "continued run" in widget.toolTip()


def test_paused_is_shown_in_the_progress_bar_and_status_bar_with_the_eta_frozen(window, qtbot):
    start(window, epochs=200)
    wait_for_batches(qtbot, window)
    batches = BatchCounter(window)
    window.run_bar.pause_button.click()
    qtbot.waitUntil(batches.waiting.is_set, timeout=30_000)
    qtbot.wait(50)  # the last batch's report has arrived
    bar, rate = window.run_bar.progress_bar, window.run_bar.rate_label
    assert bar.format().startswith("paused · epoch ")
    assert "ETA paused" in rate.text()
    assert window.statusBar().currentMessage().endswith("Paused: press Resume (F6) to go on")
    assert window.windowTitle() == "ConvScope — mnist-small — untitled*"  # what the run trained is unsaved
    window.run_bar.pause_button.click()
    step = window.last_batch.step
    qtbot.waitUntil(lambda: window.last_batch.step > step, timeout=10_000)
    assert bar.format().startswith("epoch ") and "ETA paused" not in rate.text()
    window.stop_training()
    wait_until_finished(qtbot, window)


def test_reset_asks_and_cancel_keeps_the_trained_weights(window, qtbot, answers):
    window.acts.reset.trigger()  # nothing trained yet: no question
    assert answers.asked == []
    train(window, qtbot)
    assert window.windowTitle() == "ConvScope — mnist-small — untitled*"
    trained = weights(window)
    answers.queued = ["cancel"]
    window.run_bar.reset_button.click()
    assert answers.asked[-1][0] == "Unsaved trained weights"
    assert "Reset re-initialises every weight" in answers.asked[-1][1]
    assert_same_weights(weights(window), trained)
    assert len(window.accuracy_plot.train.x) == 1
    answers.queued = ["discard"]
    window.run_bar.reset_button.click()
    assert not np.array_equal(weights(window)["layers.0.weight"], trained["layers.0.weight"])
    assert window.windowTitle() == "ConvScope — mnist-small"


def test_saving_from_the_question_keeps_the_weights_in_a_file(window, qtbot, answers, tmp_path, monkeypatch):
    network = str(tmp_path / "net.json")
    window.save_network(network)
    train(window, qtbot)
    trained = weights(window)
    path = str(tmp_path / "kept.safetensors")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path, ""))
    answers.queued = ["save"]
    window.open_network(network)
    assert answers.asked[-1][0] == "Unsaved trained weights"
    assert window.last_notice == (
        "Loaded net.json. The weights are no longer those of kept.safetensors: Save asks for a file."
    )
    window.open_weights(path)
    assert len(answers.asked) == 1  # saved: nothing to ask
    assert_same_weights(weights(window), trained)


def test_opening_other_data_or_weights_asks_and_cancel_changes_nothing(
    window, qtbot, answers, small_data, tmp_path
):
    train(window, qtbot)
    trained = weights(window)
    answers.queued = ["cancel", "cancel"]
    window.open_dataset(five_classes(tmp_path / "five.npz", small_data))
    window.open_weights(str(tmp_path / "other.safetensors"))
    assert [title for title, _ in answers.asked] == ["Unsaved trained weights"] * 2
    assert window.session.dataset.name == "mnist-small" and window.last_error == ""
    assert_same_weights(weights(window), trained)


def test_quit_after_training_asks_and_cancel_keeps_the_window(window, qtbot, answers):
    train(window, qtbot)
    answers.queued = ["cancel"]
    assert not window.close()
    assert window.isVisible() and answers.asked[-1][0] == "Quit ConvScope"


def test_quit_during_training_can_save_what_the_run_trained(window, qtbot, answers, tmp_path, monkeypatch):
    path = str(tmp_path / "quit.safetensors")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (path, ""))
    start(window, epochs=200)
    wait_for_batches(qtbot, window)
    answers.queued = ["save"]
    assert not window.close()  # closes once the run has stopped and its weights are saved
    assert "Training is in progress" in answers.asked[-1][1]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert not window.trainer.running and not window.session.unsaved
    assert window.session.weights_path == path
