"""The kernel explainer driven as a user would: step, play, click an output cell, what if; and
its dock in the window on the session's network."""

import numpy as np
from PySide6.QtCore import QPoint, Qt

from gui.cell_grid import number_text
from gui.kernel_explainer_view import KernelExplainerView


def _click_cell(qtbot, grid, row, col):
    x, y = grid.cell_centre(row, col)
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))


def test_stepping_the_notes_example_writes_out_each_cell(qtbot, shown):
    view = shown(KernelExplainerView(), 900, 600)
    text = view.arithmetic_label.text()
    assert "Σ w·x = 1·1 + 0·1 + 1·1 + 0·0 + 1·1 + 0·1 + 1·0 + 0·0 + 1·1 = 4" in text
    assert "Σ w·x + b = 4 + 2 = 6" in text
    assert not view.back_button.isEnabled()
    qtbot.mouseClick(view.forward_button, Qt.MouseButton.LeftButton)
    assert "output cell (1, 2) = 5" in view.arithmetic_label.text()
    assert view.input_grid.window == (0, 1, 3, 3)
    shown_output = view.output_grid.values
    assert shown_output[0, :2].tolist() == [6, 5] and np.isnan(shown_output[0, 2])
    qtbot.mouseClick(view.back_button, Qt.MouseButton.LeftButton)
    assert view.model.at == (0, 0)


def test_clicking_an_output_cell_jumps_to_its_window(qtbot, shown):
    view = shown(KernelExplainerView(), 900, 600)
    _click_cell(qtbot, view.output_grid, 2, 1)
    assert view.model.at == (2, 1)
    assert view.input_grid.window == (2, 1, 3, 3)
    assert "output cell (3, 2) = 5" in view.arithmetic_label.text()
    assert view.output_grid.values[2, 1] == 5 and np.isnan(view.output_grid.values[2, 2])


def test_play_walks_to_the_last_cell_and_pauses(qtbot, shown):
    view = shown(KernelExplainerView(), 900, 600)
    view.speed_spin.setValue(20)
    view.play_button.click()
    assert view.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: not view.play_button.isChecked(), timeout=20000)
    assert view.model.at == (2, 2) and view.play_button.text() == "Play"
    assert view.output_grid.values.tolist() == [[6, 5, 6], [4, 6, 5], [4, 5, 6]]


def test_what_if_padding_shows_the_ring_and_the_formula(qtbot, shown):
    view = shown(KernelExplainerView(), 900, 600)
    view.what_if_check.setChecked(True)
    view.padding_spin.setValue(1)
    assert "⌊(5 + 1 + 1 − 3)/1⌋ + 1 = 5" in view.formula_label.text()
    assert view.input_grid.ring == (1, 1, 1, 1) and view.input_grid.values.shape == (7, 7)
    assert view.output_grid.values.shape == (5, 5)
    assert "Σ w·x + b = 2 + 2 = 4" in view.arithmetic_label.text()
    view.stride_spin.setValue(2)
    assert view.output_grid.values.shape == (3, 3)
    view.what_if_check.setChecked(False)
    assert view.output_grid.values.shape == (3, 3) and view.input_grid.ring == (0, 0, 0, 0)
    assert "= 3" in view.formula_label.text()


def test_what_if_kernel_size_and_same_padding(qtbot, shown):
    view = shown(KernelExplainerView(), 900, 600)
    view.what_if_check.setChecked(True)
    assert view.size_label.text() == "kernel" and view.size_spin.value() == 3
    view.size_spin.setValue(2)
    assert "⌊(5 + 0 + 0 − 2)/1⌋ + 1 = 4" in view.formula_label.text()
    assert view.kernel_grid.values.shape == (2, 2) and view.output_grid.values.shape == (4, 4)
    assert view.input_grid.window == (0, 0, 2, 2)
    view.padding_spin.setValue(view.padding_spin.minimum())
    assert view.padding_spin.text() == "same"
    # 'same' with an even kernel: nothing before, one pixel after.
    assert "⌊(5 + 0 + 1 − 2)/1⌋ + 1 = 5" in view.formula_label.text()
    assert view.input_grid.ring == (0, 1, 0, 1) and view.output_grid.values.shape == (5, 5)
    view.size_spin.setValue(4)
    assert "⌊(5 + 1 + 2 − 4)/1⌋ + 1 = 5" in view.formula_label.text()
    assert view.input_grid.ring == (1, 2, 1, 2)


def test_the_dock_explains_the_sessions_network_on_a_test_image(window, qtbot):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
    view = dock.view
    assert view.source_combo.count() == 1 + 4  # the notes' example and the two conv-pool pairs
    dock.image_spin.setValue(3)
    view.source_combo.setCurrentIndex(1)
    view.filter_spin.setValue(2)
    _click_cell(qtbot, view.output_grid, 10, 7)
    net = window.session.net
    maps = net.feature_maps(window.session.dataset.test.x[3:4])
    assert "relu(" in view.arithmetic_label.text()
    shown_value = float(view.arithmetic_label.text().rsplit("= ", 1)[1])
    np.testing.assert_allclose(shown_value, maps[0][0, 1, 10, 7], atol=0.006)
    view.source_combo.setCurrentIndex(2)  # the max pool after it
    assert view.arithmetic_label.text().startswith("max(")
    assert view.input_grid.marked is not None


def test_a_drawing_is_explained_and_where_the_network_looks_is_shown(window, qtbot):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    dock.tabs.setCurrentWidget(dock.draw_panel)
    pad = dock.draw_panel.pad
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    qtbot.mouseMove(pad, QPoint(60, 90))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(60, 90))
    drawn = dock.draw_panel.image
    assert drawn is not None and drawn.any()
    dock.input_combo.setCurrentIndex(1)
    dock.view.source_combo.setCurrentIndex(1)
    np.testing.assert_array_equal(dock.view.model.explainer.image, drawn)
    dock.tabs.setCurrentWidget(dock.saliency_view)
    qtbot.waitUntil(lambda: dock.saliency_view.shown is not None, timeout=20000)
    assert dock.saliency_view.shown[1].shape == drawn.shape[1:]


def test_numbers_are_written_whole_or_to_two_decimals_never_as_minus_zero():
    assert [number_text(v) for v in (6.0, -0.0, 0.125, -0.001, -0.5)] == ["6", "0", "0.12", "0.00", "-0.50"]


def test_the_shown_dock_follows_a_new_rgb_data_set_with_fewer_classes(window, tmp_path):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    rgb = tmp_path / "rgb.npz"
    rng = np.random.default_rng(0)
    np.savez(rgb, x=rng.integers(0, 255, (60, 3, 16, 16), dtype=np.uint8), y=np.arange(60) % 4)
    window.open_dataset(str(rgb))
    assert window.last_error == ""
    dock.view.source_combo.setCurrentIndex(1)
    assert dock.view.model.explainer.image.shape == (3, 16, 16)
    assert dock.view.channel_spin.maximum() == 3
    assert dock.draw_panel.image.shape == (3, 16, 16)
    assert dock.draw_panel.prediction_label.text().startswith("Prediction: ")
