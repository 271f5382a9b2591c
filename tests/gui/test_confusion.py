"""The confusion-matrix dock as a user meets it: the matrix and per-class figures of the test
split, a clicked cell's images the most confident first, a clicked thumbnail in the feature maps
and the Explain dock, and live updates during a run from the one pass each epoch makes."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QApplication
from test_window import predictions, start, wait_until_finished

from engine import Network
from engine.evaluation import MAX_SHOWN_CLASSES, Evaluation, matrix_not_shown, percent, row_normalised
from gui.confusion_dock import TRAINING
from gui.confusion_view import ConfusionView


def _shown_dock(qtbot, window):
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Analyse") < menus.index("&Help")
    analyse = window.menuBar().actions()[menus.index("&Analyse")].menu()
    action = next(a for a in analyse.actions() if a.text() == "Confusion matrix")
    action.trigger()
    qtbot.waitUntil(lambda: window.confusion_dock.view.table.rowCount() == 10, timeout=30_000)
    return window.confusion_dock.view


def _click_cell(qtbot, view, true, predicted):
    item = view.table.item(true, predicted)
    view.table.scrollToItem(item)
    rect = view.table.visualItemRect(item)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _click_thumbnail(qtbot, view, row):
    item = view.thumbnails.item(row)
    view.thumbnails.scrollToItem(item)
    rect = view.thumbnails.visualItemRect(item)
    qtbot.mouseClick(view.thumbnails.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _matrix(view, columns):
    return [[view.table.item(r, c).text() for c in columns] for r in range(view.table.rowCount())]


@pytest.fixture
def trained(qtbot, window):
    """The window after two short epochs: a network that gets some images right, some wrong."""
    start(window, epochs=2)
    wait_until_finished(qtbot, window)
    return window


def test_the_matrix_and_per_class_figures_show_the_test_split(qtbot, trained):
    view = _shown_dock(qtbot, trained)
    result = trained.session.scored.evaluation
    np.testing.assert_array_equal(result.probabilities, predictions(trained))  # the weights shown
    assert view.header.text().startswith("Test split, after epoch 2 of 2. Accuracy: ")
    assert f"{result.accuracy:.2%}" in view.header.text() and f"loss {result.loss:.4f}" in view.header.text()
    assert _matrix(view, range(10)) == [[f"{n:,}" for n in row] for row in result.counts]
    metrics = result.metrics()
    for r in range(10):
        figures = [view.table.item(r, 10 + c).text() for c in range(4)]
        assert figures == [
            str(metrics.support[r]), percent(metrics.precision[r]), percent(metrics.recall[r]),
            percent(metrics.accuracy[r]),
        ]
    assert [view.table.horizontalHeaderItem(c).text() for c in range(10, 14)] == [
        "images", "precision", "recall", "accuracy"
    ]
    view.normalise_check.click()
    shares = row_normalised(result.counts)
    assert _matrix(view, range(10)) == [[f"{s:.0%}" for s in row] for row in shares]


def test_a_clicked_cell_lists_its_images_and_a_clicked_thumbnail_shows_in_the_views(qtbot, trained):
    view = _shown_dock(qtbot, trained)
    result = trained.session.scored.evaluation
    off_diagonal = result.counts - np.diag(np.diag(result.counts))
    true, predicted = np.unravel_index(np.argmax(off_diagonal), off_diagonal.shape)
    assert off_diagonal[true, predicted] >= 2
    _click_cell(qtbot, view, true, predicted)
    assert view.cell == (true, predicted)
    listed = view.thumbnail_indices()
    assert len(listed) == result.counts[true, predicted]
    assert all(trained.session.dataset.test.y[i] == true for i in listed)
    confidences = [result.probabilities[i, predicted] for i in listed]
    assert confidences == sorted(confidences, reverse=True)  # the most confident mistake first
    assert view.thumbnails.item(0).text() == f"{confidences[0]:.0%}"
    assert view.cell_label.text().startswith(f"True {true}, predicted {predicted}: {len(listed)} test images")

    maps = trained.feature_maps_view
    _click_thumbnail(qtbot, view, 1)
    assert maps.index == listed[1] and maps.index_spin.value() == listed[1] + 1
    shown = maps.shown_maps[-1]  # the probabilities drawn beside the feature maps
    np.testing.assert_allclose(shown, predictions(trained)[listed[1]], rtol=1e-5)
    title = maps.probabilities.title
    assert f"predicted <b>{predicted}</b>" in title and f"true <b>{true}</b>" in title
    trained.explain_dock.toggleViewAction().trigger()  # made when first shown, on the chosen image
    assert trained.explain_dock.image_spin.value() == listed[1] + 1
    empty = np.argwhere(result.counts == 0)[0]
    _click_cell(qtbot, view, *empty)
    assert view.thumbnail_indices() == [] and view.cell_label.text().endswith(": no test images.")
    best = int(np.argmax(np.diag(result.counts)))
    _click_cell(qtbot, view, best, best)  # the right answers, the most confident first
    right = view.thumbnail_indices()
    assert len(right) == result.counts[best, best] > 0
    assert "most confident right first" in view.cell_label.text()
    qtbot.keyClick(view.table, Qt.Key.Key_Right if best < 9 else Qt.Key.Key_Left)  # the arrow keys too
    beside = best + 1 if best < 9 else best - 1
    assert view.cell == (best, beside) and view.thumbnail_indices() == list(result.cell(best, beside))


def test_the_matrix_updates_each_epoch_from_the_one_pass_that_scored_it(qtbot, window, monkeypatch):
    """Three epochs with the matrix, a clicked cell and the misclassified list shown: the test
    set is forwarded three times in all, once per epoch's validation."""
    view = _shown_dock(qtbot, window)
    view.select_cell(3, 3)
    window.feature_maps_view.misclassified_check.setChecked(True)  # from the scores the dock shows
    assert window.feature_maps_view.misclassified is not None and not window.misclassified.scoring
    passes, headers = [], []
    test_x = window.session.dataset.test.x
    predict_proba = Network.predict_proba

    def counted(net, x, *args, **kwargs):
        if len(x) == len(test_x):
            passes.append(net.metadata.get("epochs", 0) + 1)  # the epoch it scores
        return predict_proba(net, x, *args, **kwargs)

    monkeypatch.setattr(Network, "predict_proba", counted)
    set_text = view.header.setText
    monkeypatch.setattr(view.header, "setText", lambda text: headers.append(text) or set_text(text))
    start(window, epochs=3)
    wait_until_finished(qtbot, window)
    for _ in range(3):  # nothing deferred predicts again: the queued events, then any pool pass
        QApplication.processEvents()
        assert QThreadPool.globalInstance().waitForDone(60_000)
    assert passes == [1, 2, 3]  # once per epoch
    epochs = [f"Test split, after epoch {e} of 3" for e in (1, 2, 3)]
    assert [h.split(".")[0] for h in headers] == [TRAINING.split(".")[0], *epochs]  # as the run starts
    last = window.session.scored.evaluation
    assert _matrix(view, range(10)) == [[f"{n:,}" for n in row] for row in last.counts]
    assert view.cell == (3, 3) and view.thumbnail_indices() == list(last.cell(3, 3))
    wrong = np.flatnonzero(last.predicted != window.session.dataset.test.y)
    np.testing.assert_array_equal(window.feature_maps_view.misclassified, wrong)


def test_new_weights_are_scored_again_off_the_gui_thread_while_the_dock_is_shown(qtbot, trained, monkeypatch):
    view = _shown_dock(qtbot, trained)
    assert "after epoch 2 of 2" in view.header.text()
    threads, predict_proba = [], Network.predict_proba

    def recorded(net, x, *args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return predict_proba(net, x, *args, **kwargs)

    monkeypatch.setattr(Network, "predict_proba", recorded)
    trained.settings_panel.seed_spin.setValue(trained.settings_panel.seed_spin.value() + 1)
    trained.run_bar.reset_button.click()
    qtbot.waitUntil(lambda: "of the current weights" in view.header.text(), timeout=30_000)
    assert threads == [False]  # one pass, on a pool thread
    result = trained.session.scored.evaluation
    np.testing.assert_array_equal(result.probabilities, predictions(trained))
    assert _matrix(view, range(10)) == [[f"{n:,}" for n in row] for row in result.counts]


def _pass(y, seed):
    """A made-up pass over test labels `y`: mostly right, some mistakes."""
    rng = np.random.default_rng(seed)
    p = rng.random((len(y), 10)).astype(np.float32)
    p[np.arange(len(y)), y] += 2.0
    return Evaluation(np.asarray(y, dtype=np.int64), p / p.sum(axis=1, keepdims=True), 0.5)


def test_a_network_of_more_than_a_hundred_classes_is_scored_without_its_matrix(qtbot):
    """The table has a cell per pair of classes: for 1,500 classes the dock took minutes to draw
    them (2.25 million cells), the window frozen, and 300 took 5 s of the GUI thread."""
    classes = MAX_SHOWN_CLASSES + 1
    view = ConfusionView()
    qtbot.addWidget(view)
    y = np.arange(2 * classes) % classes
    p = np.eye(classes, dtype=np.float32)[y]
    view.show_evaluation(Evaluation(y, p, 0.25), "after epoch 1 of 1", [str(c) for c in range(classes)], y)
    assert view.table.rowCount() == view.table.columnCount() == 0
    assert view.header.text() == (
        "Test split, after epoch 1 of 1. Accuracy: 100.00% (202/202), loss 0.2500\n"
        + matrix_not_shown(classes)
    )
    view.show_evaluation(_pass(np.arange(20) % 10, 0), "later", [str(c) for c in range(10)], np.arange(20))
    assert view.table.rowCount() == 10  # a network of fewer classes has its matrix again


def test_each_epochs_redraw_reuses_the_cells_and_the_thumbnails_already_made(qtbot, small_data, monkeypatch):
    """A run redraws the matrix and the clicked cell's list at every epoch's end: the table's
    items are updated in place and each test image's thumbnail is made once, not per epoch."""
    from gui import confusion_view

    made = []
    thumbnail = confusion_view.thumbnail
    monkeypatch.setattr(confusion_view, "thumbnail", lambda image: made.append(1) or thumbnail(image))
    view = ConfusionView()
    qtbot.addWidget(view)
    x, y = small_data.test.x, small_data.test.y
    names = [str(c) for c in range(10)]
    first, second = _pass(y, 0), _pass(y, 1)
    view.show_evaluation(first, "after epoch 1 of 2", names, x)
    view.select_cell(1, 1)
    assert len(made) == len(first.cell(1, 1)) > 0
    corner = view.table.item(0, 0)
    made.clear()
    view.show_evaluation(second, "after epoch 2 of 2", names, x)
    listed = list(second.cell(1, 1))
    assert view.thumbnail_indices() == listed
    assert len(made) == len(set(listed) - set(first.cell(1, 1)))  # only images new to the list
    assert view.table.item(0, 0) is corner  # updated, not made again
    assert _matrix(view, range(10)) == [[f"{n:,}" for n in row] for row in second.counts]
    assert [view.thumbnails.item(i).text() for i in range(len(listed))] == [
        f"{second.probabilities[i, 1]:.0%}" for i in listed
    ]
    empty = [(r, c) for r in range(10) for c in range(10) if second.counts[r, c] == 0]
    assert empty and all(
        view.table.item(r, c).foreground().color().name() == confusion_view.ZERO for r, c in empty
    )
    view.clear("Scoring")  # the table is emptied; the next pass fills it afresh
    view.show_evaluation(first, "of the current weights", names, x)
    assert _matrix(view, range(10)) == [[f"{n:,}" for n in row] for row in first.counts]


def test_the_dock_draws_each_pass_once(qtbot, trained, monkeypatch):
    """Shown again, or refreshed by a deferred refresh after an epoch's report was drawn, the
    dock does not draw the same scores twice."""
    view = _shown_dock(qtbot, trained)
    drawn = []
    show = view.show_evaluation
    monkeypatch.setattr(view, "show_evaluation", lambda *args: drawn.append(args[0]) or show(*args))
    dock = trained.confusion_dock
    dock.refresh()
    dock.toggleViewAction().trigger()
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(dock.isVisible)
    assert drawn == []
    start(trained, epochs=1)
    wait_until_finished(qtbot, trained)
    dock.refresh()
    assert drawn == [trained.session.scored.evaluation]
