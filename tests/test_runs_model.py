"""The runs list without Qt: listing, picking, renaming and deleting runs, and the comparison of
the picked ones (curves, settings with the differing rows marked, final metrics)."""


import numpy as np
import pytest
from test_runs import _epochs
from test_session import RECIPE, write_npz

from engine import EpochInfo, Network, load_dataset, runs
from engine.errors import RunFolderError
from engine.recipe import Recipe
from gui.runs_model import RunsModel
from gui.session import Session

LAYERS = [{"type": "conv", "filters": 2, "kernel": 3}, {"type": "softmax"}]


@pytest.fixture
def data(tmp_path):
    return load_dataset(write_npz(tmp_path / "d.npz", 3))


@pytest.fixture
def model(tmp_path, data):
    return RunsModel(Session(data, RECIPE, "cpu", runs_folder=tmp_path / "runs"))


def store(model, data, name, *, kernel=3, lr=0.03, history=None):
    layers = [{**LAYERS[0], "kernel": kernel}, LAYERS[1]]
    net = Network({"input": list(data.input_shape), "classes": data.classes, "layers": layers}, seed=1)
    record = runs.save_run(model.folder, net, name=name, dataset=data, settings=Recipe(lr=lr).settings(),
                           history=history or _epochs(2))
    model.refresh()
    return record


def test_the_runs_of_the_sessions_folder_are_listed_and_a_damaged_one_is_skipped(model, data, tmp_path):
    assert model.runs == [] and model.skipped == []  # no folder yet: no runs
    first, second = store(model, data, "a"), store(model, data, "b")
    (second.folder / runs.HISTORY_FILE).write_text("[")
    model.refresh()
    assert model.runs == [first] and len(model.skipped) == 1 and second.folder.name in model.skipped[0]
    assert model.set_folder(tmp_path / "elsewhere") == f"Runs are kept in {tmp_path / 'elsewhere'}."
    assert model.session.runs_folder == tmp_path / "elsewhere" and model.runs == []


def test_renaming_and_deleting_change_the_disk_and_the_list_and_the_pick(model, data):
    first, second = store(model, data, "a"), store(model, data, "b")
    model.pick([first.folder, second.folder])
    assert model.rename(first.folder, "kernel 3") == "Renamed the run 'a' to 'kernel 3'."
    assert [r.name for r in model.runs] == ["kernel 3", "b"] == [r.name for r in model.picked]
    assert runs.read_run(first.folder).name == "kernel 3"
    with pytest.raises(RunFolderError, match="must be some text"):
        model.rename(first.folder, "  ")
    assert runs.read_run(first.folder).name == "kernel 3"
    assert model.delete(second.folder) == "Deleted the run 'b'."
    assert not second.folder.exists() and [r.name for r in model.runs] == ["kernel 3"]
    assert [r.folder for r in model.picked] == [first.folder]
    model.pick([second.folder])  # a run that is gone cannot be picked
    assert model.picked == []


def test_each_picked_run_has_its_curves_in_a_colour_of_its_own(model, data):
    history = [EpochInfo(epoch=i, epochs=3, train_loss=1 / i, train_acc=0.5, val_loss=None, val_acc=None,
                         lr=0.1, seconds=1.0, images_per_s=10.0) for i in (1, 2, 3)]
    store(model, data, "a")
    second, third = store(model, data, "b", history=history), store(model, data, "c")
    model.pick([third.folder, second.folder])
    curves = model.curves()
    assert [c.name for c in curves] == ["b", "c"] and [c.colour for c in curves] == [0, 1]
    np.testing.assert_array_equal(curves[0].epochs, [1, 2, 3])
    np.testing.assert_allclose(curves[0].train_loss, [1, 1 / 2, 1 / 3])
    assert np.isnan(curves[0].val_acc).all()  # trained without validation
    np.testing.assert_allclose(curves[1].val_loss, [1.1, 0.55])


def test_the_settings_table_marks_exactly_the_settings_that_differ(model, data):
    a = store(model, data, "kernel 3", kernel=3, lr=0.03)
    b = store(model, data, "kernel 5", kernel=5, lr=0.1)
    model.pick([a.folder, b.folder])
    rows = {row.label: row for row in model.settings_rows()}
    assert {label for label, row in rows.items() if row.differs} == {"layer 1", "lr"}
    assert rows["layer 1"].values == (
        "conv: 2 filters 3×3, stride 1, padding 0, relu", "conv: 2 filters 5×5, stride 1, padding 0, relu"
    )
    assert rows["lr"].values == ("0.03", "0.1") and rows["batch size"].values == ("32", "32")
    assert rows["data set"].values == ("d.npz", "d.npz") and rows["input"].values == ("1×8×8",) * 2
    model.pick([a.folder])
    assert not any(row.differs for row in model.settings_rows())


def test_the_metrics_table_marks_the_best_run_of_each_metric(model, data):
    better = [EpochInfo(epoch=1, epochs=1, train_loss=0.2, train_acc=0.9, val_loss=0.3, val_acc=0.43,
                        lr=0.1, seconds=2.5, images_per_s=10.0)]
    a, b = store(model, data, "a"), store(model, data, "b", history=better)
    model.pick([a.folder, b.folder])
    rows = {row.label: row for row in model.metric_rows()}
    assert rows["epochs"].values == ("2", "1") and rows["training time"].values == ("1.0 s", "2.5 s")
    assert rows["validation accuracy"].values == ("42.00%", "43.00%")
    assert rows["validation accuracy"].best == 1
    assert rows["validation loss"].values == ("0.5500", "0.3000") and rows["validation loss"].best == 1
    assert rows["training accuracy"].best == 1 and rows["training loss"].best == 1
    assert not any(row.differs for row in rows.values())
    c = store(model, data, "c")  # ties with a: no best
    model.pick([a.folder, c.folder])
    assert all(row.best is None for row in model.metric_rows())
