"""Stored training runs: written whole, read back, renamed and deleted; a damaged run folder is
skipped with a message (hypothesis damages them), and `convscope runs` lists them."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import EpochInfo, Network, runs
from engine.errors import RunFolderError
from engine.recipe import Recipe
from engine.weights import load

SPEC = {"input": [1, 8, 8], "classes": 3, "layers": [{"type": "conv", "filters": 2, "kernel": 3},
                                                    {"type": "softmax"}]}


def _epochs(n: int) -> list[EpochInfo]:
    return [
        EpochInfo(epoch=i, epochs=n, train_loss=1.0 / i, train_acc=0.5, val_loss=1.1 / i,
                  val_acc=0.4 + i / 100, lr=0.1, seconds=0.5, images_per_s=100.0)
        for i in range(1, n + 1)
    ]


@pytest.fixture
def data(mnist):
    return mnist


def _store(folder, name="first", epochs=2, lr=0.03, data=None):
    net = Network({**SPEC, "input": list(data.input_shape), "classes": data.classes}, seed=1)
    return runs.save_run(folder, net, name=name, dataset=data, settings=Recipe(lr=lr).settings(),
                         history=_epochs(epochs)), net


def test_a_run_is_stored_whole_and_read_back(tmp_path, data):
    record, net = _store(tmp_path / "runs", data=data)
    assert record.name == "first" and record.dataset == data.name
    assert record.settings["lr"] == 0.03 and record.settings["optimizer"] == "sgd"
    assert [e["epoch"] for e in record.history] == [1, 2]
    final = {"train_loss": 0.5, "train_acc": 0.5, "val_loss": 0.55, "val_acc": 0.42}
    assert record.metrics == pytest.approx(final)
    assert record.spec == net.spec
    assert sorted(os.listdir(record.folder)) == sorted(
        [runs.RUN_FILE, runs.SPEC_FILE, runs.HISTORY_FILE, runs.METRICS_FILE, runs.WEIGHTS_FILE]
    )
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(load(record.weights).state_dict()[name], value)
    assert runs.load_runs(tmp_path / "runs") == ([record], [])
    assert os.listdir(tmp_path / "runs") == [record.folder.name]  # no temporary folder left


def test_runs_are_renamed_deleted_and_listed_oldest_first(tmp_path, data):
    first, _ = _store(tmp_path, "a", data=data)
    second, _ = _store(tmp_path, "b", data=data)
    renamed = runs.rename_run(first, "with pooling")
    assert renamed.name == "with pooling" and renamed.history == first.history
    listed, skipped = runs.load_runs(tmp_path)
    assert [r.name for r in listed] == ["with pooling", "b"] and skipped == []
    runs.delete_run(second)
    assert [r.name for r in runs.load_runs(tmp_path)[0]] == ["with pooling"]
    assert os.listdir(tmp_path) == [first.folder.name]
    with pytest.raises(RunFolderError, match="control characters"):
        runs.rename_run(renamed, "bad\nname")


def test_a_missing_runs_folder_holds_no_runs(tmp_path):
    assert runs.load_runs(tmp_path / "none") == ([], [])


def test_a_failed_write_leaves_no_run_behind(tmp_path, data, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "save", full_disk)
    with pytest.raises(RunFolderError, match="cannot store the run .No space left"):
        _store(tmp_path, data=data)
    assert os.listdir(tmp_path) == []


DAMAGE = st.sampled_from(
    [runs.RUN_FILE, runs.SPEC_FILE, runs.HISTORY_FILE, runs.METRICS_FILE, runs.WEIGHTS_FILE]
)
CONTENT = st.one_of(
    st.binary(max_size=64),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=40)
@given(file=DAMAGE, content=st.none() | CONTENT, field=st.sampled_from(["name", "settings", "created"]),
       value=st.none() | st.integers() | st.text(max_size=3) | st.just("x" * 500))
def test_a_damaged_run_folder_is_skipped_with_a_message(tmp_path_factory, mnist, file, content, field, value):
    folder = tmp_path_factory.mktemp("runs")
    good, _ = _store(folder, "good", data=mnist)
    bad, _ = _store(folder, "bad", data=mnist)
    path = bad.folder / file
    if content is None:  # the file is gone, or run.json holds a wrong value
        if file == runs.RUN_FILE:
            text = json.loads(path.read_text())
            text[field] = value
            path.write_text(json.dumps(text))
        else:
            path.unlink()
    else:
        path.write_bytes(content)
    listed, skipped = runs.load_runs(folder)
    assert good in listed
    if bad not in listed and not any(r.folder == bad.folder for r in listed):
        assert len(skipped) == 1 and bad.folder.name in skipped[0]
    else:  # the damage happened to leave a readable run (a weight file is only read when opened)
        assert skipped == []


def test_the_runs_command_lists_runs_and_skips_a_damaged_one(tmp_path, data):
    _store(tmp_path, "kernel 3", epochs=3, data=data)
    broken, _ = _store(tmp_path, "broken", data=data)
    (broken.folder / runs.HISTORY_FILE).write_text("[{")
    result = subprocess.run(
        [sys.executable, "-m", "engine", "runs", "--folder", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"1 run in {tmp_path}:"
    header = ["name", "created", "(UTC)", "data", "epochs", "val", "acc", "val", "loss", "folder"]
    assert lines[1].split() == header
    assert lines[2].split()[:2] == ["kernel", "3"] and "43.00%" in lines[2] and "0.3667" in lines[2]
    assert "note: skipped the damaged run" in result.stderr and "history.json" in result.stderr


def test_the_runs_command_says_when_there_are_none(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "engine", "runs", "--folder", str(tmp_path / "empty")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and result.stdout == f"no runs in {tmp_path / 'empty'}\n"


def test_the_default_runs_folder_is_the_chosen_one_or_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(runs.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert runs.default_folder() == tmp_path / "convscope" / "runs"
    assert runs.default_folder().name == "runs"
    monkeypatch.setenv(runs.ENV_VAR, str(tmp_path / "mine"))
    assert runs.default_folder() == tmp_path / "mine"
