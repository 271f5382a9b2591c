"""The Runs dock, driven as a user would: the run just trained appears in it; rename in the list,
delete after a question, pick two runs to see their curves overlaid and their settings compared;
the runs folder chosen is kept as a preference."""


import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLineEdit
from test_runs import _epochs
from test_window import start, wait_until_finished

from engine import Network, runs
from engine.recipe import Recipe
from gui import theme


@pytest.fixture
def window(qtbot, settings, small_data, tmp_path):
    from gui.main_window import MainWindow

    win = MainWindow(settings=settings, dataset=small_data, runs_folder=tmp_path / "runs")
    qtbot.addWidget(win)
    win.settings_panel.device_combo.setCurrentIndex(win.settings_panel.device_combo.findData("cpu"))
    win.resize(1400, 900)
    win.show()
    win.runs_dock.show()
    yield win
    win.trainer.shutdown(2000)


def store(window, name, kernel=3, lr=0.03, epochs=2):
    data = window.session.dataset
    spec = {"input": list(data.input_shape), "classes": data.classes,
            "layers": [{"type": "conv", "filters": 2, "kernel": kernel}, {"type": "softmax"}]}
    record = runs.save_run(window.session.runs_folder, Network(spec, seed=1), name=name, dataset=data,
                           settings=Recipe(lr=lr).settings(), history=_epochs(epochs))
    window.runs_dock.refresh()
    return record


def names(table):
    return [table.item(row, 0).text() for row in range(table.rowCount())]


def click_row(qtbot, table, name, modifier=Qt.KeyboardModifier.NoModifier):
    item = table.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    where = table.visualItemRect(item).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, where)


def test_the_run_just_trained_appears_in_the_list(window, qtbot):
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    table = window.runs_dock.table
    (record,), _ = runs.load_runs(window.session.runs_folder)
    assert names(table) == [record.name]
    assert [table.item(0, c).text() for c in range(table.columnCount())] == list(runs.summary_row(record))


def test_a_run_renamed_in_the_list_is_renamed_on_disk_and_in_the_list(window, qtbot):
    first, second = store(window, "first"), store(window, "second")
    table = window.runs_dock.table
    assert names(table) == ["second", "first"]  # the newest first
    click_row(qtbot, table, "first")
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editor = table.findChild(QLineEdit)
    assert editor is not None and editor.text() == "first"
    editor.selectAll()
    qtbot.keyClicks(editor, "kernel 3")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "kernel 3" in names(table), timeout=5000)
    assert names(table) == ["second", "kernel 3"]
    assert runs.read_run(first.folder).name == "kernel 3" and runs.read_run(second.folder).name == "second"
    assert window.last_notice == "Renamed the run 'first' to 'kernel 3'."


def test_a_bad_name_is_refused_and_the_list_keeps_the_name_on_disk(window, qtbot):
    first = store(window, "first")
    table = window.runs_dock.table
    table.item(0, 0).setText("   ")  # as the editor commits it
    assert names(table) == ["first"] and runs.read_run(first.folder).name == "first"
    assert "a run's name must be some text" in window.last_error


def test_delete_asks_first_and_cancel_keeps_the_run(window, qtbot, answers):
    first, second = store(window, "first"), store(window, "second")
    dock = window.runs_dock
    click_row(qtbot, dock.table, "first")
    answers.queued = ["cancel"]
    qtbot.mouseClick(dock.delete_button, Qt.MouseButton.LeftButton)
    assert answers.asked == [("Delete runs", "Delete the run 'first'? Its folder, weights included, "
                                             "is removed for good.")]
    assert first.folder.exists() and names(dock.table) == ["second", "first"]
    answers.queued = ["discard"]  # the Delete button
    qtbot.mouseClick(dock.delete_button, Qt.MouseButton.LeftButton)
    assert not first.folder.exists() and second.folder.exists() and names(dock.table) == ["second"]
    assert window.last_notice == "Deleted the run 'first'."


def test_two_picked_runs_are_overlaid_in_distinct_colours_with_a_legend(window, qtbot):
    a, b = store(window, "kernel 3", epochs=2), store(window, "kernel 5", kernel=5, epochs=3)
    dock = window.runs_dock
    click_row(qtbot, dock.table, "kernel 3")
    click_row(qtbot, dock.table, "kernel 5", Qt.KeyboardModifier.ControlModifier)
    assert [r.name for r in dock.model.picked] == ["kernel 3", "kernel 5"]
    for plot, key, scale in ((dock.loss_plot, "val_loss", 1), (dock.accuracy_plot, "val_acc", 100)):
        item = plot.getPlotItem()
        legend = [(sample.item, label.text) for sample, label in item.legend.items]
        assert [text for _, text in legend[:2]] == ["solid: validation", "dashed: training"]
        legend = legend[2:]
        assert [text for _, text in legend] == ["kernel 3", "kernel 5"]
        colours = [curve.opts["pen"].color().name() for curve, _ in legend]
        assert colours == [QColor(c).name() for c in theme.RUN_COLOURS[:2]] and colours[0] != colours[1]
        for (curve, _), run in zip(legend, (a, b), strict=True):
            x, y = curve.getData()
            assert list(x) == [e["epoch"] for e in run.history]
            assert list(y) == pytest.approx([scale * e[key] for e in run.history])
        assert len(item.listDataItems()) == 2 + 4  # the styles, and validation and training for each run
    click_row(qtbot, dock.table, "kernel 5")  # a plain click picks that run alone
    legend = dock.loss_plot.getPlotItem().legend.items
    assert [label.text for _, label in legend][2:] == ["kernel 5"]


def test_the_settings_table_highlights_exactly_the_settings_that_differ(window, qtbot):
    store(window, "kernel 3", kernel=3, lr=0.03)
    store(window, "kernel 5", kernel=5, lr=0.1)
    dock = window.runs_dock
    dock.table.selectAll()
    table = dock.compare_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["kernel 3", "kernel 5"]
    labels = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    highlighted = {
        labels[r] for r in range(table.rowCount())
        if table.item(r, 0).background().color() == QColor(theme.DIFFERS)
    }
    assert highlighted == {"layer 1", "lr"}
    layer = labels.index("layer 1")
    assert [table.item(layer, c).text() for c in (0, 1)] == [
        "conv: 2 filters 3×3, stride 1, padding 0, relu", "conv: 2 filters 5×5, stride 1, padding 0, relu"
    ]
    assert "final metrics" in labels and "validation accuracy" in labels
    accuracy = labels.index("validation accuracy")
    assert [table.item(accuracy, c).text() for c in (0, 1)] == ["42.00%", "42.00%"]


def test_the_runs_folder_chosen_is_kept_for_the_next_window(window, qtbot, settings, small_data, tmp_path):
    from gui.main_window import MainWindow

    store(window, "here")
    window.runs_dock.choose_folder(str(tmp_path / "elsewhere"))
    assert window.session.runs_folder == tmp_path / "elsewhere" and names(window.runs_dock.table) == []
    assert window.last_notice == f"Runs are kept in {tmp_path / 'elsewhere'}."
    window.save_window_state()
    again = MainWindow(settings=settings, dataset=small_data, runs_folder=tmp_path / "runs")
    qtbot.addWidget(again)
    assert again.session.runs_folder == tmp_path / "elsewhere"


def test_a_run_kept_at_its_end_is_listed_without_redrawing_the_comparison(window, qtbot):
    """The run just trained is listed but not picked: the picked runs' curves and table stay as
    drawn (redrawing them took most of the dock's work at a run's end); a picked run renamed is
    drawn again under its new name."""
    store(window, "kernel 3"), store(window, "kernel 5", kernel=5, epochs=3)
    dock = window.runs_dock
    dock.table.selectAll()
    curves = dock.loss_plot.getPlotItem().listDataItems()
    corner = dock.compare_table.item(0, 0)
    assert len(curves) == 2 + 4
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    assert len(names(dock.table)) == 3 and [r.name for r in dock.model.picked] == ["kernel 3", "kernel 5"]
    assert dock.loss_plot.getPlotItem().listDataItems() == curves  # the same curves, not drawn again
    assert dock.compare_table.item(0, 0) is corner
    item = dock.table.findItems("kernel 5", Qt.MatchFlag.MatchExactly)[0]
    item.setText("kernel 5, wider")  # as the editor commits a rename
    legend = [label.text for _, label in dock.loss_plot.getPlotItem().legend.items]
    assert legend[2:] == ["kernel 3", "kernel 5, wider"]


def test_a_window_that_keeps_no_runs_says_how_to_keep_them(qtbot, settings, small_data):
    """With no runs folder the dock does not promise that runs are kept: it says how to keep them."""
    from gui.main_window import MainWindow

    window = MainWindow(settings=settings, dataset=small_data, runs_folder=None)
    qtbot.addWidget(window)
    window.show()
    window.runs_dock.show()
    assert window.runs_dock.folder_label.text() == "Runs are not kept in this window"
    assert window.runs_dock.message_label.text() == "Change Folder… to keep each run trained to its end."
