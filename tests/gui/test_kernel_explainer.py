"""The kernel explainer driven as a user would: step, play, click an output cell, what if; and
its dock in the window on the session's network."""

import threading

import numpy as np
from PySide6.QtCore import QPoint, Qt
from test_window import open_data

from engine.network import Network
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
    assert "output cell at row 0, column 1 = 5" in view.arithmetic_label.text()
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
    assert "output cell at row 2, column 1 = 5" in view.arithmetic_label.text()
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


def test_what_if_keeps_a_layers_non_square_geometry_until_it_is_changed(qtbot, shown, device):
    spec = {
        "input": [1, 9, 9],
        "classes": 2,
        "layers": [
            {"type": "conv", "filters": 1, "kernel": [2, 3], "activation": "linear"},
            {"type": "pool", "mode": "max", "size": [2, 3], "stride": [1, 2]},
            {"type": "softmax"},
        ],
    }
    view = shown(KernelExplainerView(), 900, 600)
    view.model.set_input(Network(spec, device=device), np.ones((1, 9, 9), dtype=np.float32))
    view.set_sources([(0, "conv"), (1, "pool")])
    view.source_combo.setCurrentIndex(1)
    conv = "rows: ⌊(9 + 0 + 0 − 2)/1⌋ + 1 = 8    columns: ⌊(9 + 0 + 0 − 3)/1⌋ + 1 = 7"
    assert view.formula_label.text() == conv
    view.what_if_check.setChecked(True)
    assert view.formula_label.text() == conv and view.size_spin.value() == 2
    view.stride_spin.setValue(2)  # the 2×3 kernel stays
    assert view.formula_label.text().endswith("columns: ⌊(9 + 0 + 0 − 3)/2⌋ + 1 = 4")
    view.source_combo.setCurrentIndex(2)  # what if, from the pool's own 2×3 window, stride 1×2
    pool = "rows: ⌊(8 + 0 + 0 − 2)/1⌋ + 1 = 7    columns: ⌊(7 + 0 + 0 − 3)/2⌋ + 1 = 3"
    assert view.formula_label.text() == pool
    assert (view.stride_spin.value(), view.size_spin.value()) == (1, 2)
    view.size_spin.setValue(3)
    assert view.formula_label.text().startswith("rows: ⌊(8 + 0 + 0 − 3)/1⌋ + 1 = 6    columns: ⌊(7")


def test_the_dock_explains_the_sessions_network_on_a_test_image(window, qtbot):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
    view = dock.view
    assert view.source_combo.count() == 1 + 4  # the notes' example and the two conv-pool pairs
    # each layer numbered as the editor numbers it (the conv layers were "Layer 1" and "Layer 3")
    sources = [view.source_combo.itemText(k) for k in range(1, 5)]
    assert [s.split(":")[0] for s in sources] == ["Layer 0", "Layer 1", "Layer 2", "Layer 3"]
    assert window.editor.layer_list.topLevelItem(2).text(0).startswith("2  conv")
    assert sources[2].startswith("Layer 2: 40 filters")
    dock.image_spin.setValue(4)  # numbered from 1, as in Feature maps, which follows it
    assert window.session.sample_index == 3 and window.feature_maps_view.index == 3
    view.source_combo.setCurrentIndex(1)
    # filters, channels and cells counted from 0, as the filters and feature maps views count them
    assert (view.filter_spin.minimum(), view.filter_spin.maximum()) == (0, 19)
    view.filter_spin.setValue(1)
    assert view.model.filter == 1
    _click_cell(qtbot, view.output_grid, 10, 7)
    assert "output cell at row 10, column 7 = " in view.arithmetic_label.text()
    net = window.session.net
    maps = net.feature_maps(window.session.dataset.test.x[3:4])
    assert "relu(" in view.arithmetic_label.text()
    shown_value = float(view.arithmetic_label.text().rsplit("= ", 1)[1])
    np.testing.assert_allclose(shown_value, maps[0][0, 1, 10, 7], atol=0.006)
    view.source_combo.setCurrentIndex(3)  # the second conv: 20 input channels
    assert (view.channel_spin.minimum(), view.channel_spin.maximum()) == (0, 19)
    view.channel_spin.setValue(0)
    assert "Σ w·x (channel 0) = " in view.arithmetic_label.text()
    view.source_combo.setCurrentIndex(2)  # the max pool after it
    assert view.arithmetic_label.text().startswith("max(")
    assert view.input_grid.marked is not None


def _draw(qtbot, panel, points):
    """A stroke with the mouse, and the input prepared from it."""
    first, *rest = (QPoint(*p) for p in points)
    with qtbot.waitSignal(panel.inputChanged, timeout=10000):
        qtbot.mousePress(panel.pad, Qt.MouseButton.LeftButton, pos=first)
        for p in rest:
            qtbot.mouseMove(panel.pad, p)
        qtbot.mouseRelease(panel.pad, Qt.MouseButton.LeftButton, pos=rest[-1])


def test_a_drawing_is_explained_and_where_the_network_looks_is_shown(window, qtbot):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    dock.tabs.setCurrentWidget(dock.draw_panel)
    _draw(qtbot, dock.draw_panel, [(20, 20), (60, 90)])
    drawn = dock.draw_panel.image
    assert drawn is not None and drawn.any()
    assert dock.input_combo.currentData() == "own"  # drawing makes the drawing the input
    dock.tabs.setCurrentWidget(dock.view)
    dock.view.source_combo.setCurrentIndex(1)
    np.testing.assert_array_equal(dock.view.model.explainer.image, drawn)
    dock.tabs.setCurrentWidget(dock.saliency_view)
    qtbot.waitUntil(lambda: dock.saliency_view.shown is not None, timeout=20000)
    assert dock.saliency_view.shown[1].shape == drawn.shape[1:]


def test_drawing_shows_in_the_windows_feature_maps_with_one_forward_pass_per_update(
    window, qtbot, monkeypatch
):
    dock, session, maps_view = window.explain_dock, window.session, window.feature_maps_view
    dock.toggleViewAction().trigger()
    dock.view.source_combo.setCurrentIndex(2)  # the pool after the first conv: it needs the maps
    dock.tabs.setCurrentWidget(dock.draw_panel)
    net = session.net
    rng = np.random.default_rng(0)  # weights with a clear answer (a new softmax layer says 10% to each)
    net.load_state_dict({k: rng.normal(0, 0.1, v.shape) for k, v in net.state_dict().items()})
    real = net.feature_maps
    passes, updates = [], []
    monkeypatch.setattr(net, "feature_maps", lambda x: passes.append(len(x)) or real(x))
    dock.draw_panel.inputChanged.connect(lambda: updates.append(dock.draw_panel.image))
    _draw(qtbot, dock.draw_panel, [(30, 20), (30, 120), (70, 130)])  # within the pad's least size
    first = dock.draw_panel.probabilities
    np.testing.assert_array_equal(maps_view.shown_maps[-1], first)
    _draw(qtbot, dock.draw_panel, [(110, 20), (110, 130)])
    assert not np.allclose(dock.draw_panel.probabilities, first)  # the prediction follows the pen
    drawn = dock.draw_panel.image
    assert session.own_image is drawn and maps_view.showing_own
    np.testing.assert_array_equal(maps_view.shown_input, drawn)
    expected = real(drawn[None])
    for shown_maps, maps in zip(maps_view.shown_maps, expected, strict=True):
        np.testing.assert_allclose(shown_maps, maps[0], rtol=1e-6)
    predicted = session.dataset.class_names[int(expected[-1][0].argmax())]
    assert dock.draw_panel.prediction_label.text().startswith(f"Prediction: {predicted} ")
    assert f"predicted <b>{predicted}</b>" in maps_view.probabilities.title
    assert "Your own input" in maps_view.status_label.text()
    # One forward pass per update serves the window, the prediction and the explainer.
    assert len(updates) >= 2 and passes == [1] * len(updates)
    dock.tabs.setCurrentWidget(dock.view)
    np.testing.assert_allclose(dock.view.model.explainer.image, expected[0][0], rtol=1e-6)
    assert len(passes) == len(updates)
    maps_view.next_button.click()  # a test image picked in the window: back to the test images
    assert session.own_image is None and not maps_view.showing_own
    assert dock.input_combo.currentData() == "test" and dock.image_spin.value() == 2
    assert "Your own input" not in maps_view.status_label.text()


def test_numbers_are_written_whole_or_to_two_decimals_never_as_minus_zero():
    assert [number_text(v) for v in (6.0, -0.0, 0.125, -0.001, -0.5)] == ["6", "0", "0.12", "0.00", "-0.50"]


def test_the_shown_dock_follows_a_new_rgb_data_set_with_fewer_classes(window, qtbot, tmp_path):
    dock = window.explain_dock
    dock.toggleViewAction().trigger()
    rgb = tmp_path / "rgb.npz"
    rng = np.random.default_rng(0)
    np.savez(rgb, x=rng.integers(0, 255, (60, 3, 16, 16), dtype=np.uint8), y=np.arange(60) % 4)
    open_data(qtbot, window, str(rgb))
    assert window.last_error == ""
    dock.view.source_combo.setCurrentIndex(1)
    assert dock.view.model.explainer.image.shape == (3, 16, 16)
    assert dock.view.channel_spin.maximum() == 2  # red, green and blue: channels 0 to 2
    assert dock.draw_panel.image.shape == (3, 16, 16)
    dock.input_combo.setCurrentIndex(1)  # the (blank) drawing as input
    assert window.session.own_image.shape == (3, 16, 16)
    assert dock.draw_panel.prediction_label.text().startswith("Prediction: ")


def test_the_dock_stays_live_while_a_run_trains_from_the_workers_copies(window, qtbot, monkeypatch):
    from test_window import start, wait_until_finished

    dock = window.explain_dock
    dock.toggleViewAction().trigger()  # the dock makes its views when first shown
    view = dock.view
    view.source_combo.setCurrentIndex(1)  # the first conv layer
    _click_cell(qtbot, view.output_grid, 8, 9)
    before = view.model.cell().weights.copy()
    shots, explained, on_gui_thread = [], [], []
    window.trainer.snapshotReady.connect(shots.append)  # after the dock's own connection
    set_input = view.model.set_input
    monkeypatch.setattr(view.model, "set_input", lambda *a: explained.append(a) or set_input(*a))
    net = window.session.net
    real = net.feature_maps
    monkeypatch.setattr(
        net,
        "feature_maps",
        lambda x: on_gui_thread.append(threading.current_thread() is threading.main_thread()) or real(x),
    )
    start(window, epochs=50)  # long enough that Stop always comes before the end
    qtbot.waitUntil(lambda: len(shots) >= 2, timeout=60_000)
    shot, cell = shots[-1], view.model.cell()
    assert view.model.at == (8, 9)
    np.testing.assert_array_equal(cell.weights, shot.kernels[0][view.model.filter])
    assert not np.array_equal(cell.weights, before)  # the run's current weights, not the first
    np.testing.assert_allclose(cell.output, shot.maps[0][view.model.filter, 8, 9], rtol=1e-5, atol=1e-6)
    assert f"output cell at row 8, column 9 = {number_text(cell.output)}" in view.arithmetic_label.text()
    assert len(explained) == len(shots)  # one update per snapshot: the worker's bounded rate
    dock.tabs.setCurrentWidget(dock.draw_panel)  # a drawing during the run: the next snapshot's input
    _draw(qtbot, dock.draw_panel, [(60, 40), (60, 200)])
    drawn = dock.draw_panel.image
    qtbot.waitUntil(lambda: shots[-1].image is drawn, timeout=60_000)
    assert window.feature_maps_view.showing_own
    np.testing.assert_array_equal(dock.draw_panel.probabilities, shots[-1].maps[-1])
    dock.tabs.setCurrentWidget(dock.saliency_view)
    assert "when the run ends" in dock.saliency_view.status_label.text()
    assert on_gui_thread.count(True) == 0 and on_gui_thread.count(False) >= len(shots)  # the worker's
    window.run_bar.stop_button.click()
    wait_until_finished(qtbot, window)


def test_the_dock_opened_first_during_a_run_explains_the_runs_network(window, qtbot):
    from test_window import start, wait_until_finished

    shots = []
    window.trainer.snapshotReady.connect(shots.append)  # after the dock's own connection
    start(window, epochs=50)  # long enough that Stop always comes before the end
    qtbot.waitUntil(lambda: len(shots) >= 1, timeout=60_000)
    dock = window.explain_dock
    dock.toggleViewAction().trigger()  # made now, while the run trains
    view = dock.view
    assert view.source_combo.count() == 1 + 4  # the notes' example and the two conv-pool pairs
    assert dock.image_spin.maximum() == len(window.session.dataset.test.x)
    view.source_combo.setCurrentIndex(1)  # the first conv layer
    _click_cell(qtbot, view.output_grid, 8, 9)
    shot, cell = shots[-1], view.model.cell()
    np.testing.assert_array_equal(cell.weights, shot.kernels[0][view.model.filter])
    np.testing.assert_allclose(cell.output, shot.maps[0][view.model.filter, 8, 9], rtol=1e-5, atol=1e-6)
    window.run_bar.stop_button.click()
    wait_until_finished(qtbot, window)
