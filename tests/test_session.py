"""The window's state and operations without Qt: each operation changes the session and returns a
notice, or raises a ConvScopeError and changes nothing; one whole user scenario runs in a process
where PySide6 cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_weights import SPEC  # an 8×8, 3-class network

from engine import (
    Callback,
    ConvScopeError,
    DataError,
    DeviceError,
    History,
    WeightFileError,
    evaluation,
    fit,
    load_dataset,
)
from engine import backend as backend_module
from engine.augment import Augment
from engine.data import MAX_NAME
from engine.errors import LimitError, LoadCancelled
from engine.recipe import Recipe
from engine.spec import default_spec_for
from gui import session as session_module
from gui.session import Busy, LoadOptions, Session, load_data

ROOT = Path(__file__).resolve().parent.parent
RECIPE = Recipe(epochs=1, batch_size=16, seed=0)



def write_npz(path: Path, classes: int, size: int = 8, seed: int = 0) -> str:
    """A small learnable data set: the class is which third of the image is bright."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, n)
        x = rng.random((n, 1, size, size), dtype=np.float32) * 0.2
        for i, label in enumerate(y):
            x[i, 0, :, label * size // classes : (label + 1) * size // classes] += 0.8
        return x, y

    x, y = split(96)
    x_test, y_test = split(48)
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return str(path)


def write_image_folder(root: Path, classes: tuple[str, ...], per_class: int, broken: int = 0) -> Path:
    """root/<class>/<i>.png, 10×10 grey PNGs written with Pillow (class i a brightness of its
    own), and `broken` files with an image's name that Pillow cannot read, in the first class."""
    from PIL import Image

    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((10, 10), 40 * c + i, np.uint8)).save(root / name / f"{i}.png")
    for i in range(broken):
        (root / classes[0] / f"broken{i}.png").write_bytes(b"not a png")
    return root


@pytest.fixture
def session(tmp_path) -> Session:
    return Session(load_dataset(write_npz(tmp_path / "start.npz", 3)), RECIPE, "cpu")


def _state(session: Session):
    return session.net, session.dataset, session.layer_ids, session.weights_path, session.dirty


def with_layers(session: Session) -> None:
    """Edit the network to SPEC's layers, as the editor would: new ids for the new layers."""
    spec = {**session.spec, "layers": SPEC["layers"]}
    session.edit(spec, [-3, -2, -1, *session.layer_ids])


def train_briefly(session: Session, epochs: int = 1) -> str:
    """What the window's worker does with a run, on this thread (without the time-lapse)."""
    run = session.start_run(Recipe(epochs=epochs, batch_size=16, lr=0.1))
    history = fit(
        run.net, run.dataset.train, epochs=epochs, batch_size=16, optimizer=run.optimizer, threads=1
    )
    for info in history.epochs:
        session.record_epoch(info)
    return session.finish_run(history)


def scenario(folder: str) -> None:
    """Open a data set, edit the network, train briefly, save, reset, open the weights again,
    evaluate: the reopened network predicts exactly what the saved one did."""
    folder_path = Path(folder)
    session = Session(load_dataset(write_npz(folder_path / "start.npz", 3)), RECIPE, "cpu")
    seen = []
    session.events.network.connect(lambda: seen.append("network"))
    notice = session.open_dataset(
        write_npz(folder_path / "four.npz", 4, seed=1), session.spec, session.layer_ids
    )
    assert notice == "Opened the data set four.npz; a new run begins on it." and session.net.classes == 4
    assert [info.type for info in session.net.infos] == ["softmax"]  # 8×8 is too small for the default
    with_layers(session)
    assert [info.type for info in session.net.infos] == ["conv", "pool", "dense", "softmax"]
    assert train_briefly(session, epochs=2) == "done" and session.dirty
    assert [e.epoch for e in session.history.epochs] == [1, 2]
    path = str(folder_path / "trained.safetensors")
    assert session.save_weights(path) == f"Saved the weights to {path}." and not session.dirty
    trained = session.net.predict_proba(session.dataset.test.x)
    before = session.evaluate(threads=1)
    assert session.reset(RECIPE) == (
        "Weights re-initialised from seed 0. "
        "The weights are no longer those of trained.safetensors: Save asks for a file."
    )
    assert session.weights_path is None
    assert not np.array_equal(session.net.predict_proba(session.dataset.test.x), trained)
    assert session.history.epochs == [] and session.optimizer is None
    assert (
        session.open_weights(path) == "Loaded trained.safetensors and its sgd state, which Train continues."
    )
    np.testing.assert_array_equal(session.net.predict_proba(session.dataset.test.x), trained)
    after = session.evaluate(threads=1)
    assert after.loss == before.loss and np.array_equal(after.counts, before.counts) and len(before.y) == 48
    assert session.net.metadata["epochs"] == 2 and session.optimizer.steps == 12
    assert seen.count("network") >= 4
    assert "PySide6" not in sys.modules or sys.modules["PySide6"] is None


def test_a_whole_user_scenario_runs_with_pyside6_unimportable(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['PySide6'] = None\n"  # any `import PySide6...` now raises ImportError
        "sys.modules['pyqtgraph'] = None\n"
        "import test_session\n"
        f"test_session.scenario({str(tmp_path)!r})\n"
        "print('scenario done')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "scenario done" in result.stdout


def test_an_edit_keeps_what_each_unchanged_layer_learned(session, tmp_path):
    with_layers(session)
    train_briefly(session)
    before = session.net.state_dict()
    spec = session.spec
    spec["layers"][2]["units"] = 12  # the dense layer: its weights and the softmax's change shape
    notice = session.edit(spec, session.layer_ids)
    after = session.net.state_dict()
    np.testing.assert_array_equal(after["layers.0.weight"], before["layers.0.weight"])
    assert after["layers.2.weight"].shape[0] == 12
    assert notice == (
        "Re-initialised layers 2 (dense) and 3 (softmax): the change altered their weight shapes; "
        "layer 0 (conv) kept what it learned."
    )
    assert session.optimizer is None


def test_a_failed_operation_changes_nothing(session, tmp_path, monkeypatch):
    before = _state(session)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a weight file")
    with pytest.raises(WeightFileError):
        session.open_weights(str(bad))
    monkeypatch.setattr(backend_module, "gpu_unavailable_reason", lambda: "no CUDA here")
    with pytest.raises(DeviceError, match="no CUDA here"):
        session.change_device("gpu")
    (tmp_path / "net.json").write_text('{"input": [3, 8, 8], "classes": 3, "layers": [{"type": "softmax"}]}')
    with pytest.raises(DataError, match="net.json: .* 1×8×8 images but the network expects 3×8×8"):
        session.open_network(str(tmp_path / "net.json"), RECIPE)
    with pytest.raises(DataError):
        session.open_dataset(str(tmp_path / "missing.npz"), session.spec, session.layer_ids)
    assert _state(session) == before


def test_every_path_that_builds_a_network_turns_running_out_of_memory_into_a_limit_error(
    session, monkeypatch
):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(session_module, "Network", no_memory)
    before = _state(session)
    for operation in (
        lambda: session.edit(session.spec, session.layer_ids),
        lambda: session.change_device("cpu"),
        lambda: session.reset(RECIPE),
    ):
        with pytest.raises(LimitError, match="ran out of memory"):
            operation()
    assert _state(session) == before


def test_while_a_run_trains_the_network_is_the_runs(session, tmp_path):
    run = session.start_run(RECIPE)
    assert session.running and run.net is session.net
    for operation in (
        lambda: session.edit(session.spec, session.layer_ids),
        lambda: session.reset(RECIPE),
        lambda: session.save_weights(str(tmp_path / "m.safetensors")),
        lambda: session.start_run(RECIPE),
        lambda: session.evaluate(),
        lambda: session.evaluation_input(),
    ):
        with pytest.raises(Busy):
            operation()
    assert issubclass(Busy, ConvScopeError)
    assert session.finish_run(None) == "failed" and not session.running


def test_a_new_run_continues_the_optimizer_and_rewinds_the_history(session):
    events = []
    session.events.history.connect(lambda start, horizon: events.append((start, horizon)))
    train_briefly(session)
    optimizer = session.optimizer
    train_briefly(session)
    assert session.optimizer is optimizer and optimizer.steps == 12
    assert events == [(0, 1), (1, 2)] and [e.epoch for e in session.history.epochs] == [1, 2]
    session.reset(RECIPE)
    assert events[-1] == (None, None)


def test_undo_and_redo_give_back_each_network_with_its_weights(session):
    with_layers(session)
    train_briefly(session)
    before, before_spec, ids = session.net.state_dict(), session.spec, session.layer_ids
    spec = session.spec
    spec["layers"][2]["units"] = 12
    session.edit(spec, ids)
    edited = session.net.state_dict()
    assert session.can_undo and not session.can_redo
    assert session.undo() == "Undid the last network edit; the network has its weights from before it."
    assert session.spec == before_spec and session.layer_ids == ids and session.trained
    for name, array in session.net.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    assert session.can_redo and session.redo() == "Redid the network edit."
    assert session.spec["layers"][2]["units"] == 12
    for name, array in session.net.state_dict().items():
        np.testing.assert_array_equal(array, edited[name])
    session.undo()
    session.edit(session.spec, session.layer_ids)  # a new edit after an undo: nothing to redo
    assert not session.can_redo
    with pytest.raises(ConvScopeError, match="no undone network edit"):
        session.redo()


def test_restoring_the_default_network_is_an_edit_that_undo_reverts(session):
    with_layers(session)
    edited = session.spec
    notice = session.restore_default()
    assert notice.startswith("Restored the default network with fresh weights")
    data = session.dataset
    assert session.spec == default_spec_for(data.input_shape, data.classes) and not session.trained
    session.undo()
    assert session.spec == edited


def test_a_network_that_does_not_come_from_an_edit_ends_undo(session):
    with_layers(session)
    session.reset(RECIPE)
    assert not session.can_undo
    with pytest.raises(ConvScopeError, match="no network edit to undo"):
        session.undo()


def test_a_new_data_set_starts_a_new_run_and_says_which_layers_kept_their_weights(session, tmp_path):
    with_layers(session)
    train_briefly(session, epochs=2)
    kept = session.net.state_dict()["layers.0.weight"]
    events = []
    session.events.history.connect(lambda start, horizon: events.append((start, horizon)))
    four = write_npz(tmp_path / "four.npz", 4, seed=1)
    notice = session.open_dataset(four, session.spec, session.layer_ids)
    assert notice == (
        "Opened the data set four.npz; a new run begins on it. Re-initialised layer 3 (softmax): "
        "the change altered its weight shapes; layers 0 (conv) and 2 (dense) kept what they learned."
    )
    np.testing.assert_array_equal(session.net.state_dict()["layers.0.weight"], kept)
    assert session.history.epochs == [] and session.epochs_trained == 0 and events == [(None, None)]
    train_briefly(session)
    assert events[-1] == (0, 1) and [e.epoch for e in session.history.epochs] == [1]


def test_unsaved_means_trained_weights_that_no_file_holds(session, tmp_path):
    with_layers(session)
    assert session.dirty and not session.unsaved
    session.save_weights(str(tmp_path / "untrained.safetensors"))
    session.start_run(RECIPE)
    assert session.unsaved  # from the run's first step
    session.finish_run(None)
    train_briefly(session)
    assert session.unsaved and session.epochs_trained == 1
    session.save_weights(str(tmp_path / "m.safetensors"))
    assert not session.unsaved


def test_weights_re_initialised_in_every_layer_are_no_longer_the_files(session, tmp_path):
    """Reset, the default network, a network file, and an edit or a data set that re-initialise
    every layer leave nothing of the weight file: the session no longer names it (the title, and
    Save, which would write fresh weights over it), and the notice says so."""
    train_briefly(session)
    path = str(tmp_path / "m.safetensors")
    session.save_weights(path)
    network = tmp_path / "net.json"
    network.write_text('{"input": [1, 8, 8], "classes": 3, "layers": [{"type": "softmax"}]}')
    titles = []
    session.events.weights_file.connect(lambda: titles.append(session.weights_path))
    gone = "The weights are no longer those of m.safetensors: Save asks for a file."
    wider = {**session.spec, "layers": [{"type": "dense", "units": 5}, {"type": "softmax"}]}
    for operation, notice in (
        (lambda: session.reset(RECIPE), f"Weights re-initialised from seed 0. {gone}"),
        (session.restore_default, f"Restored the default network with fresh weights (Undo brings back "
         f"the previous one). {gone}"),
        (lambda: session.open_network(str(network), RECIPE), f"Loaded net.json. {gone}"),
        (
            lambda: session.edit(wider, [-1, *session.layer_ids]),
            "Re-initialised layers 0 (dense) and 1 (softmax): the change altered their weight "
            f"shapes. {gone}",
        ),
    ):
        session.open_weights(path)
        assert session.weights_path == path and not session.dirty
        assert operation() == notice
        assert session.weights_path is None and titles[-1] is None
        assert session.dirty and not session.unsaved  # nothing trained is left to lose
    # the network before the edit had the file's weights: it is named by the file again
    assert session.undo() == "Undid the last network edit; the network has its weights from before it."
    assert session.weights_path == path and session.dirty and session.unsaved
    assert session.edit(session.spec, session.layer_ids) is None  # keeps every layer's weights
    assert session.weights_path == path and session.unsaved
    ten = write_npz(tmp_path / "ten.npz", 3, size=10)  # the softmax's weights change shape
    notice = session.open_dataset(ten, session.spec, session.layer_ids)
    assert notice.endswith(f"the change altered its weight shapes. {gone}") and session.weights_path is None


def test_an_evaluation_elsewhere_gets_a_copy_with_the_networks_figures(session):
    with_layers(session)
    train_briefly(session)
    source = session.evaluation_input()
    net, dataset = source.net, source.dataset
    assert net is not session.net and dataset is session.dataset and net.metadata == session.net.metadata
    before = {name: np.array(value) for name, value in net.state_dict().items()}
    copied, direct = evaluation.evaluate(net, dataset, threads=1), session.evaluate(threads=1)
    assert copied.loss == direct.loss and np.array_equal(copied.probabilities, direct.probabilities)
    assert session.evaluated(copied, source) and session.scored.evaluation is copied
    train_briefly(session)  # the session's network trains on; the copy keeps its weights
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert not session.evaluated(copied, source) and session.scored is None  # stale: not taken


def test_a_run_trained_to_its_end_is_kept_in_the_runs_folder(tmp_path):
    session = Session(
        load_dataset(write_npz(tmp_path / "start.npz", 3)), RECIPE, "cpu", runs_folder=tmp_path / "runs"
    )
    notices = []
    session.events.runs.connect(notices.append)
    with_layers(session)
    assert train_briefly(session, epochs=2) == "done"
    (record,), skipped = session.list_runs()
    assert skipped == [] and notices == [f"Kept the run as {record.name!r} in {tmp_path / 'runs'}."]
    assert record.name == "start.npz, 2 epochs, sgd lr 0.1, batch 16" and record.dataset == "start.npz"
    assert [e["epoch"] for e in record.history] == [1, 2] and record.spec == session.net.spec
    assert record.metrics["train_acc"] == session.history.epochs[-1].train_acc
    assert record.settings["lr"] == 0.1 and record.settings["epochs"] == 2
    assert train_briefly(session) == "done"  # the next run keeps only its own epoch
    assert [[e["epoch"] for e in r.history] for r in session.list_runs()[0]] == [[1, 2], [3]]
    assert session.list_runs()[0][1].name == "start.npz, 1 epoch, sgd lr 0.1, batch 16"


def test_an_image_folder_loads_with_its_options_and_progress_and_its_notes_are_the_notice(session, tmp_path):
    folder = write_image_folder(tmp_path / "pets", ("cat", "dog", "fox"), 10, broken=1)
    seen = []
    dataset = load_data(str(folder), LoadOptions(image_size=(6, 8), colour="rgb"), lambda *p: seen.append(p))
    assert seen == [(i, 30) for i in range(1, 31)]  # the broken file is refused at its header
    assert dataset.name == "pets" and dataset.class_names == ("cat", "dog", "fox")
    assert dataset.input_shape == (3, 6, 8) and len(dataset.train.y) + len(dataset.test.y) == 30
    notice = session.use_dataset(dataset, session.spec, session.layer_ids)
    assert notice == (
        f"Opened the data set pets; a new run begins on it. {folder}: 30 images of 3 classes, read as "
        f"RGB 6×8. {folder}: skipped 1 unreadable file: broken0.png (not an image Pillow can read)."
    )
    assert session.dataset is dataset and session.net.input_shape == (3, 6, 8) and session.net.classes == 3


def test_a_cancelled_load_stops_reading_and_leaves_the_session_as_it_was(session, tmp_path):
    folder = write_image_folder(tmp_path / "pets", ("cat", "dog"), 20)
    before, seen = _state(session), []
    with pytest.raises(LoadCancelled, match="loading cancelled"):
        load_data(str(folder), None, lambda done, _: seen.append(done), lambda: len(seen) >= 5)
    assert seen == [1, 2, 3, 4, 5] and _state(session) == before


def test_the_network_exports_to_onnx_checked_and_to_pytorch_once_its_weights_are_saved(
    session, tmp_path, monkeypatch
):
    import onnxruntime
    from test_export import torch_probabilities

    from engine import onnx_export

    with_layers(session)
    train_briefly(session)
    x = session.dataset.test.x
    expected = session.net.predict_proba(x)
    path = str(tmp_path / "net.onnx")
    assert session.export(path).startswith(
        f"Exported the network to {path}; ONNX's reference runtime gives its probabilities on 32 test "
        "images to within "
    )
    runtime = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(runtime.run(None, {"images": x})[0], expected, atol=1e-5)
    monkeypatch.setattr(onnx_export, "check_onnx", lambda net, path, images: 0.0)  # as an untrained one can
    assert session.export(path).endswith("gives its probabilities on 32 test images exactly.")
    source = str(tmp_path / "net_torch.py")
    with pytest.raises(ConvScopeError, match="save the weights"):
        session.export(source)
    with pytest.raises(ConvScopeError, match=r"an \.onnx file \(ONNX\) or a \.py file"):
        session.export(str(tmp_path / "net.pt"))
    session.save_weights(str(tmp_path / "net.safetensors"))
    assert session.export(source) == f"Exported the network to {source}; its load() reads net.safetensors."
    np.testing.assert_allclose(torch_probabilities(Path(source), x), expected, atol=1e-5)


def test_an_onnx_file_that_does_not_reproduce_the_network_is_refused(session, tmp_path, monkeypatch):
    from engine import Network
    from engine import export as export_module
    from engine.onnx_export import ExportError, save_onnx

    with_layers(session)
    train_briefly(session)  # a new network's zero softmax weights give every class 1/3
    other = Network(session.spec, seed=99, device="cpu")
    monkeypatch.setattr(export_module, "export_network", lambda net, onnx: save_onnx(other, onnx))
    with pytest.raises(ExportError, match="away from ConvScope's .* does not reproduce the network"):
        session.export(str(tmp_path / "net.onnx"))


def test_the_expanded_set_trains_on_five_times_the_images_and_is_kept_in_the_runs_settings(
    tmp_path, monkeypatch
):
    sizes = []

    def spy(net, train, *args, **kwargs):
        sizes.append(len(train[0]))
        return fit(net, train, *args, **kwargs)

    monkeypatch.setattr(session_module, "fit", spy)
    data = load_dataset(write_npz(tmp_path / "start.npz", 3))
    session = Session(data, RECIPE, "cpu", runs_folder=tmp_path / "runs")
    with_layers(session)
    recipe = Recipe(epochs=1, batch_size=16, lr=0.1, threads=1, augment=Augment(expand=True))
    history = session.start_run(recipe).train()
    session.record_epoch(history.epochs[0])
    assert session.finish_run(history) == "done"
    assert sizes == [5 * len(data.train.y)]
    run = session.list_runs()[0][0]
    assert run.name.endswith("batch 16, expanded ×5") and run.settings["expand"] is True


def test_the_recipes_augmentation_reaches_fit_and_the_stored_runs_settings(tmp_path, monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return fit(*args, **kwargs)

    monkeypatch.setattr(session_module, "fit", spy)
    trained = []
    for augment in (Augment(shift=2, flip=True, rotate=10), Augment()):
        data = load_dataset(write_npz(tmp_path / "start.npz", 3))
        session = Session(data, RECIPE, "cpu", runs_folder=tmp_path / str(len(trained)))
        with_layers(session)
        recipe = Recipe(epochs=1, batch_size=16, lr=0.1, threads=1, augment=augment)
        history = session.start_run(recipe).train()  # as the window's worker trains
        session.record_epoch(history.epochs[0])
        assert session.finish_run(history) == "done"
        trained.append(session)
    assert [c["augment"] for c in calls] == [Augment(2, True, 10.0), Augment()]
    varied, plain = (s.list_runs()[0][0] for s in trained)
    assert varied.name == "start.npz, 1 epoch, sgd lr 0.1, batch 16, shift 2 px, flip, rotate 10°"
    assert (varied.settings["shift"], varied.settings["flip"], varied.settings["rotate"]) == (2, True, 10.0)
    assert (plain.settings["shift"], plain.settings["flip"], plain.settings["rotate"]) == (0, False, 0.0)
    assert plain.name == "start.npz, 1 epoch, sgd lr 0.1, batch 16"
    # The varied images trained other weights than the plain ones from the same seed.
    assert not np.array_equal(trained[0].net.state_dict()["layers.0.weight"],
                              trained[1].net.state_dict()["layers.0.weight"])


def test_a_run_on_a_data_set_with_a_long_name_is_kept_under_a_shortened_one(tmp_path):
    """The window names the run from the data set and the settings: with a data set named in 70
    characters, the name passed a run's 100 and the finished run was not kept."""
    long_name = "handwritten_digits_photographed_by_the_class_of_2026_during_term_1.npz"
    session = Session(
        load_dataset(write_npz(tmp_path / long_name, 3)), RECIPE, "cpu", runs_folder=tmp_path / "runs"
    )
    notices = []
    session.events.runs.connect(notices.append)
    with_layers(session)
    assert train_briefly(session) == "done"
    (record,), _ = session.list_runs()
    assert notices == [f"Kept the run as {record.name!r} in {tmp_path / 'runs'}."]
    assert len(record.name) == MAX_NAME and record.name.endswith("…, 1 epoch, sgd lr 0.1, batch 16")
    assert record.name.startswith(long_name[:60]) and record.dataset == long_name
    tabbed = Session(  # a file's name may hold a tab, which a run's name may not
        load_dataset(write_npz(tmp_path / "a\tb.npz", 3)), RECIPE, "cpu", runs_folder=tmp_path / "runs2"
    )
    with_layers(tabbed)
    assert train_briefly(tabbed) == "done"
    assert [r.name for r in tabbed.list_runs()[0]] == ["a b.npz, 1 epoch, sgd lr 0.1, batch 16"]


def test_a_stopped_run_is_not_kept_and_a_failed_store_is_a_notice(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    session = Session(
        load_dataset(write_npz(tmp_path / "start.npz", 3)), RECIPE, "cpu", runs_folder=blocked / "runs"
    )
    notices = []
    session.events.runs.connect(notices.append)
    run = session.start_run(RECIPE)
    assert session.finish_run(History(stopped="stopped")) == "stopped" and notices == []
    assert run is not None and not session.running
    assert train_briefly(session) == "done" and not session.running
    assert len(notices) == 1 and notices[0].startswith("The run was not kept: ")
    assert "cannot make the runs folder" in notices[0]


def test_the_time_lapse_goes_on_across_runs_is_saved_beside_the_weights_and_comes_back(session, tmp_path):
    with_layers(session)
    for epochs in (2, 1):
        run = session.start_run(Recipe(epochs=epochs, batch_size=16, lr=0.1), sample_index=5)
        fit(run.net, run.dataset.train, epochs=epochs, batch_size=16, optimizer=run.optimizer,
            callbacks=[run.timelapse], threads=1)
        session.finish_run(History())
    frames = session.timelapse.frames
    assert [f.position for f in frames][-3:] == [1, 2, 3] and session.timelapse.sample_index == 5
    path = str(tmp_path / "model.safetensors")
    assert session.save_weights(path) == (
        f"Saved the weights to {path} and their time-lapse to model.timelapse.npz."
    )
    session.reset(RECIPE)
    assert session.timelapse is None
    assert session.open_weights(path).startswith("Loaded model.safetensors and its sgd state")
    assert [f.position for f in session.timelapse.frames] == [f.position for f in frames]
    np.testing.assert_array_equal(session.timelapse.frames[-1].filters, frames[-1].filters)
    (tmp_path / "model.timelapse.npz").write_bytes(b"damaged")
    notice = session.open_weights(path)
    assert "Its time-lapse was not loaded: " in notice and "model.timelapse.npz" in notice
    assert session.timelapse is None and session.net.metadata["epochs"] == 3


def test_weights_saved_without_a_time_lapse_over_a_file_take_its_time_lapse_away(session, tmp_path):
    """Reset weights saved over a trained file kept its time-lapse beside them, and opening the
    file played the replaced run's snapshots as its history."""
    with_layers(session)
    run = session.start_run(Recipe(epochs=1, batch_size=16, lr=0.1))
    fit(run.net, run.dataset.train, epochs=1, batch_size=16, optimizer=run.optimizer,
        callbacks=[run.timelapse], threads=1)
    session.finish_run(History())
    path = str(tmp_path / "model.safetensors")
    session.save_weights(path)
    assert (tmp_path / "model.timelapse.npz").exists()
    session.reset(RECIPE)  # untrained weights, no time-lapse
    assert session.save_weights(path) == f"Saved the weights to {path}."
    assert session.open_weights(path) == "Loaded model.safetensors."
    assert session.timelapse is None and not (tmp_path / "model.timelapse.npz").exists()


def test_the_shown_input_is_a_test_image_or_the_users_own_with_one_pass_per_input_and_weights(
    tmp_path, monkeypatch, device
):
    session = Session(load_dataset(write_npz(tmp_path / "start.npz", 3)), RECIPE, device)
    with_layers(session)
    inputs, passes = [], []
    session.events.input.connect(lambda: inputs.append((session.sample_index, session.own_image)))
    real = session.net.feature_maps
    monkeypatch.setattr(session.net, "feature_maps", lambda x: passes.append(x.shape) or real(x))
    first = session.snapshot()
    assert first.image is None and first.sample_index == 0 and session.snapshot() is first
    session.choose_sample(5)
    assert session.snapshot().sample_index == 5 and inputs == [(5, None)]
    np.testing.assert_allclose(session.snapshot().maps[-1], real(session.dataset.test.x[5:6])[-1][0])
    own = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    session.show_own_image(own)
    shot = session.snapshot()
    assert shot.image is own and inputs[-1] == (5, own) and session.snapshot() is shot
    np.testing.assert_allclose(shot.maps[-1], real(own[None])[-1][0])
    assert sorted(shot.kernels) == sorted(shot.biases) == [0]
    np.testing.assert_array_equal(shot.biases[0], session.net.state_dict()["layers.0.bias"])
    assert passes == [(1, 1, 8, 8)] * 3  # one per input and weights, however often asked
    with pytest.raises(DataError, match="does not fit"):
        session.show_own_image(np.zeros((3, 8, 8), dtype=np.float32))
    assert train_briefly(session) == "done"  # new weights: a new pass for the same input
    assert session.snapshot() is not shot and len(passes) == 4
    session.choose_sample(5)  # the test image again (the same one)
    assert session.own_image is None and inputs[-1] == (5, None)
    with pytest.raises(IndexError):
        session.choose_sample(48)
    session.show_own_image(own)
    session.open_dataset(write_npz(tmp_path / "small.npz", 3), session.spec, session.layer_ids)
    assert session.own_image is None and session.sample_index == 5
    session.start_run(RECIPE)
    with pytest.raises(Busy):
        session.snapshot()


def test_the_latest_scores_come_from_each_epochs_validation_and_go_when_the_weights_change(session):
    seen = []
    session.events.scored.connect(seen.append)
    run = session.start_run(Recipe(epochs=2, batch_size=16, lr=0.1))
    history = fit(run.net, run.dataset.train, epochs=2, batch_size=16, optimizer=run.optimizer,
                  validation=run.dataset, threads=1, callbacks=[_RecordEpochs(session)])
    assert [s.when for s in seen] == ["after epoch 1 of 2", "after epoch 2 of 2"]
    assert session.scored is seen[-1] and session.history.epochs[-1].evaluation is None
    assert session.finish_run(history) == "done" and session.scored is seen[-1]  # the weights it scored
    again = session.evaluate(threads=1)
    np.testing.assert_array_equal(again.probabilities, seen[-1].evaluation.probabilities)
    assert session.scored.evaluation is again and session.scored.when == "of the current weights"
    session.edit(session.spec, session.layer_ids)
    assert session.scored is None and seen[-1] is None
    session.evaluate(threads=1)
    session.start_run(RECIPE)
    assert session.finish_run(History(stopped="stopped")) == "stopped"  # part of an epoch trained
    assert session.scored is None and seen[-1] is None


class _RecordEpochs(Callback):
    """The window's epoch-end handler, on the training thread."""

    def __init__(self, session: Session):
        self.session = session

    def on_epoch_end(self, info):
        self.session.record_epoch(info)


def test_the_time_lapse_is_announced_whenever_it_is_replaced(session, tmp_path):
    seen = []
    session.events.timelapse.connect(lambda: seen.append(session.timelapse))
    with_layers(session)
    assert seen == [None]  # an edit drops the frames of layers that may be gone
    run = session.start_run(RECIPE)
    assert seen[-1] is run.timelapse
    fit(run.net, run.dataset.train, epochs=1, batch_size=16, optimizer=run.optimizer,
        callbacks=[run.timelapse], threads=1)
    session.finish_run(History())
    path = str(tmp_path / "model.safetensors")
    session.save_weights(path)
    session.open_weights(path)
    assert seen[-2] is None and seen[-1] is session.timelapse and session.timelapse.frames
    session.restore_default()  # another network: the frames no longer describe it
    assert session.timelapse is None and seen[-1] is None
