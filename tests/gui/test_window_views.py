"""The window's views tell a user what they need to read them: Evaluate's figures, the wording
of counts, and the numbering of test images."""

import subprocess
import sys
import threading

import numpy as np
import PySide6
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QSpinBox
from test_window import open_data, predictions, start, wait_until_finished

from engine import EpochInfo, Network, evaluation, load_dataset
from engine.recipe import DEFAULT_RECIPE
from engine.spec import default_spec
from engine.weights import save
from gui.plots import AccuracyPlot, epoch_ticks


@pytest.fixture
def builtin_window(qtbot, settings):
    from gui.main_window import MainWindow

    win = MainWindow(settings=settings, dataset=load_dataset())
    qtbot.addWidget(win)
    win.show()
    yield win
    win.trainer.shutdown(2000)


def test_evaluate_shows_the_figures_convscope_evaluate_prints_and_the_files_record(
    builtin_window, qtbot, tmp_path
):
    win = builtin_window
    path = tmp_path / "model.safetensors"
    net = Network(default_spec(), seed=3, device="cpu")
    net.metadata.update(epochs=2, metrics={"train_acc": 0.5, "train_loss": 1.25, "val_acc": None})
    save(net, path, optimizer=DEFAULT_RECIPE.make_optimizer(None), dataset=win.session.dataset)
    win.open_weights(str(path))
    win.acts.evaluate.trigger()
    qtbot.waitUntil(lambda: hasattr(win, "evaluation_dialog"), timeout=60_000)
    shown = win.evaluation_dialog.figures.toPlainText().splitlines()
    printed = subprocess.run(
        [sys.executable, "-m", "engine", "evaluate", str(path), "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    start = printed.index(next(line for line in printed if line.startswith("accuracy: ")))
    end = printed.index("confusion matrix (rows: true class, columns: predicted):")
    assert shown[1:] == printed[start:end] and len(shown) == 1 + 3 + 10
    assert shown[0] == "mnist-5k, 1,000 test images"
    stored = win.evaluation_dialog.stored.text()
    assert "model.safetensors: trained 2 epochs on mnist-5k, seed 3" in stored
    assert "last epoch: train accuracy 50.00%, train loss 1.2500" in stored
    assert "optimizer: sgd (lr 0.03, l2 0.0001, momentum 0.9), 0 steps taken" in stored


def test_evaluate_runs_off_the_gui_thread_while_the_window_stays_responsive(window, qtbot, monkeypatch):
    release, seen = threading.Event(), []
    real = evaluation.evaluate
    names = window.session.dataset.class_names
    expected = evaluation.summary_lines(real(window.session.net, window.session.dataset), names)

    def held(net, data, threads=None):
        seen.append((threading.get_ident(), net is window.session.net))
        release.wait(10)  # long enough for the checks below; old code sat here on the GUI thread
        return real(net, data, threads=threads)

    monkeypatch.setattr(evaluation, "evaluate", held)
    window.acts.evaluate.trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    ((thread, same_network),) = seen
    assert thread != threading.main_thread().ident and not same_network  # a copy, on another thread
    assert not window.acts.evaluate.isEnabled() and window.last_notice.startswith("Evaluating")
    view = window.feature_maps_view
    view.next_button.click()  # the window takes the user's clicks while the evaluation runs
    assert view.index_spin.text() == "2 of 100" and not hasattr(window, "evaluation_dialog")
    window.run_bar.reset_button.click()  # and may change the weights meanwhile
    release.set()
    qtbot.waitUntil(lambda: hasattr(window, "evaluation_dialog"), timeout=30_000)
    dialog = window.evaluation_dialog
    assert dialog.figures.toPlainText().splitlines()[1:] == expected  # of the weights it copied
    assert dialog.heading.text().startswith("Evaluated the weights as they were when Evaluate was pressed")
    assert window.session.scored is None  # not the latest scores of weights it never saw
    assert window.acts.evaluate.isEnabled()
    window.acts.evaluate.trigger()
    qtbot.waitUntil(lambda: window.evaluation_dialog is not dialog, timeout=30_000)
    assert window.evaluation_dialog.heading.text() == "On the test split:"
    assert window.session.scored.when == "of the current weights"
    assert window.last_notice.startswith("Evaluated on the test split: accuracy ")


def test_opening_a_weight_file_shows_its_stored_metrics_and_settings_at_once(window, qtbot, tmp_path):
    path = tmp_path / "model.safetensors"
    net = Network(default_spec(), seed=3, device="cpu")
    scores = {"train_acc": 0.5, "train_loss": 1.25, "val_acc": 0.875, "val_loss": 0.5}
    net.metadata.update(epochs=2, metrics=scores)
    save(net, path, optimizer=DEFAULT_RECIPE.make_optimizer(None), dataset=window.session.dataset)
    info = window.weights_info
    assert "model.safetensors" not in info.text()
    window.open_weights(str(path))
    assert info.isVisible() and info.text().splitlines() == [
        f"model.safetensors: trained 2 epochs on mnist-small, seed 3, {net.init} initialisation",
        "last epoch: train accuracy 50.00%, train loss 1.2500, validation accuracy 87.50%, "
        "validation loss 0.5000",
        "optimizer: sgd (lr 0.03, l2 0.0001, momentum 0.9), 0 steps taken",
    ]
    start(window)
    wait_until_finished(qtbot, window)
    assert info.text().startswith("model.safetensors*: trained 3 epochs on mnist-small")  # as the title
    assert "steps taken" in info.text() and "0 steps taken" not in info.text()
    window.reset_weights()
    assert info.text().startswith("not saved yet: trained 0 epochs, seed 0")
    window.save_weights_as(str(tmp_path / "fresh.safetensors"))  # says what the file now records
    assert info.text().startswith("fresh.safetensors: trained 0 epochs on mnist-small, seed 0")


# -- stale displays: each view shows the session's state after it changes ---------------------


def _rgb_npz(path, classes=10):
    rng = np.random.default_rng(0)
    x = rng.random((40, 28, 28, 3), dtype=np.float32)
    np.savez(path, x=x, y=np.arange(40) % classes, x_test=x[:20], y_test=np.arange(20) % classes)
    return str(path)


def test_the_misclassified_count_goes_when_the_network_changes(qtbot, window):
    view = window.feature_maps_view
    view.misclassified_check.setChecked(True)
    qtbot.waitUntil(lambda: view.status_label.text().endswith("of 100 misclassified"), timeout=30_000)
    view.misclassified_check.setChecked(False)
    window.run_bar.reset_button.click()
    assert view.status_label.text() == "" and view.misclassified is None
    view.misclassified_check.setChecked(True)
    window.settings_panel.seed_spin.setValue(window.settings_panel.seed_spin.value() + 1)
    window.run_bar.reset_button.click()
    wrong = np.flatnonzero(predictions(window).argmax(axis=1) != window.session.dataset.test.y)
    qtbot.waitUntil(lambda: view.status_label.text() == f"{len(wrong)} of 100 misclassified", timeout=30_000)


def test_the_filter_hover_text_describes_the_weights_shown_now(window):
    view = window.filters_view
    th, tw = view.mosaic.tile_shape
    view.canvas.hovered.emit(QPointF(tw / 2, th / 2))  # the mouse over filter 0
    before = view.hover_label.text()
    assert before.startswith("filter 0: weights from")
    window.settings_panel.seed_spin.setValue(window.settings_panel.seed_spin.value() + 1)
    window.run_bar.reset_button.click()
    w = window.session.net.state_dict()["layers.0.weight"][0, 0]
    assert view.hover_label.text() == f"filter 0: weights from {w.min():+.3f} to {w.max():+.3f}"
    assert view.hover_label.text() != before and view.canvas.toolTip() == view.hover_label.text()


def test_stop_and_reset_clear_the_runs_speed_eta_and_plot_ranges(window, qtbot):
    bar = window.run_bar
    start(window, epochs=50)  # long enough that Stop always comes before the end
    qtbot.waitUntil(lambda: "ETA" in bar.rate_label.text(), timeout=30_000)
    window.run_bar.stop_button.click()
    wait_until_finished(qtbot, window)
    assert bar.progress_bar.format() == "stopped" and bar.rate_label.text() == ""
    qtbot.waitUntil(lambda: window.loss_plot.getPlotItem().viewRange()[1][1] > 1.5, timeout=10_000)
    window.run_bar.reset_button.click()
    assert bar.rate_label.text() == "" and bar.progress_bar.format() == "ready"
    assert window.loss_plot.getPlotItem().viewRange()[1] == [0, 1]
    assert window.loss_plot.getPlotItem().viewRange()[0][1] < 1.1


def test_the_title_stops_naming_a_weight_file_once_its_weights_are_re_initialised(
    window, qtbot, tmp_path, monkeypatch
):
    path = str(tmp_path / "gui_w1.safetensors")
    network = tmp_path / "net.json"  # only a softmax: a new image size re-initialises every layer
    network.write_text('{"input": [1, 28, 28], "classes": 10, "layers": [{"type": "softmax"}]}')
    window.open_network(str(network))
    window.save_weights_as(path)
    named = "ConvScope — mnist-small — gui_w1.safetensors"
    gone = "The weights are no longer those of gui_w1.safetensors: Save asks for a file."
    assert window.windowTitle() == named
    window.run_bar.reset_button.click()
    assert window.windowTitle() == "ConvScope — mnist-small" and window.last_notice.endswith(gone)
    window.open_weights(path)
    assert window.windowTitle() == named
    open_data(qtbot, window, _rgb_npz(tmp_path / "rgb.npz"))
    assert window.windowTitle() == "ConvScope — rgb.npz" and window.last_notice.endswith(gone)
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or ("", ""))
    window.acts.save_weights.trigger()
    assert asked  # Save asks where, instead of writing the fresh weights over gui_w1.safetensors


def test_grey_filters_after_colour_ones_are_drawn_with_the_colour_bars_map(window, qtbot, tmp_path, mnist):
    view = window.filters_view
    open_data(qtbot, window, _rgb_npz(tmp_path / "rgb.npz"))
    assert not view.color_bar.isVisible()
    open_data(qtbot, window, "mnist-5k")
    assert view.color_bar.isVisible()
    pixels = view.canvas.image
    colours = {
        pixels.pixelColor(x, y).getRgb()[:3] for x in range(pixels.width()) for y in range(pixels.height())
    }
    assert any(abs(r - b) > 40 for r, _, b in colours)  # red-blue, not grey


# -- views a user can read ---------------------------------------------------------------------


def test_test_images_are_numbered_from_one(window):
    view = window.feature_maps_view
    assert view.index_spin.value() == 1 and view.index == 0
    assert view.index_spin.text() == "1 of 100"
    view.prev_button.click()
    assert view.index_spin.text() == "100 of 100" and view.index == 99
    np.testing.assert_array_equal(view.shown_input, window.session.dataset.test.x[99])


def test_counts_are_written_with_proper_singulars_and_plurals(window, qtbot):
    view = window.filters_view
    assert view.layer_label.text() == "20 filters × 1 input channel, 5×5"
    view.layer_combo.setCurrentIndex(1)
    assert view.layer_label.text() == "40 filters × 20 input channels, 5×5"
    window.editor.select_layer(0)
    spin = window.editor.findChild(QSpinBox, "convFiltersEditor")
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "1")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert view.layer_label.text() == "40 filters × 1 input channel, 5×5"
    view.layer_combo.setCurrentIndex(0)
    assert view.layer_label.text() == "1 filter × 1 input channel, 5×5"
    assert window.editor.layer_list.topLevelItem(0).text(0).startswith("0  conv · 1 filter 5×5, stride 1")


def test_the_accuracy_plot_fits_its_points_and_ticks_and_shows_the_last_one_whole(shown):
    plot = shown(AccuracyPlot(), 400, 300)
    plot.set_horizon(3)
    for epoch, acc in ((1, 0.62), (2, 0.9), (3, 1.0)):
        plot.add_epoch(EpochInfo(epoch, 3, 0.5, acc, 0.6, acc, 0.03, 1.0, 1000.0))
    plot.grab()
    item = plot.getPlotItem()
    (_, right), (bottom, top) = item.viewRange()
    assert 50 <= bottom < 60 and 100 < top < 105  # 60 to 100 with a margin, not 0 to 100
    view = item.getViewBox()
    last = view.mapViewToScene(QPointF(3, 100))
    frame = view.sceneBoundingRect()
    assert frame.right() - last.x() > 7 and last.y() - frame.top() > 3.5  # the 7 px symbol whole
    assert [t for t, _ in item.getAxis("bottom")._tickLevels[0]] == [0, 1, 2, 3]
    plot.clear_data()
    assert item.viewRange()[1][0] < 0 and item.viewRange()[1][1] > 100


@pytest.mark.parametrize(
    ("horizon", "ticks"),
    [
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        (13, [0, 2, 4, 6, 8, 10, 13]),
        (40, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
    ],
)
def test_epoch_ticks_end_at_the_last_epoch(horizon, ticks):
    assert epoch_ticks(horizon) == ticks


def test_help_is_the_last_menu(window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[-1] == "&Help" and "&Explain" in menus and "&Analyse" in menus


def _help(window, name):
    action = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu()
    next(a for a in action.actions() if a.objectName() == name).trigger()
    return window.help_dialog.findChild(QLabel, "helpText").text()


def test_the_help_menu_lists_the_shortcuts_explains_the_views_and_names_versions_and_device(window):
    keys = _help(window, "shortcutsAction")
    assert "<b>F5</b></td><td>Train" in keys and "<b>Ctrl+E</b></td><td>Evaluate" in keys
    assert "<b>Ctrl+R</b></td><td>Reset Weights" in keys
    assert "Learned filters" in _help(window, "readingAction")
    about = _help(window, "aboutAction")
    assert f"numpy {np.__version__}" in about and f"PySide6-Essentials {PySide6.__version__}" in about
    assert f"The network lives on {window.session.net.backend.description}." in about
