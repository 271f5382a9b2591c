"""CIFAR-10 and CIFAR-100 in their python (pickled) and binary formats, written here in the
published layouts with generated images; a hostile pickle fails with DataError and runs nothing."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.data import DataError, load_dataset
from engine.errors import LoadCancelled

BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10 = {
    "python": (BATCHES, "test_batch", "batches.meta"),
    "binary": (tuple(f"{b}.bin" for b in BATCHES), "test_batch.bin", "batches.meta.txt"),
}
CIFAR100 = {
    "python": (("train",), "test", "meta"),
    "binary": (("train.bin",), "test.bin", "fine_label_names.txt"),
}


def write_cifar(folder: Path, fmt: str, hundred: bool, parts, names) -> None:
    """`parts`: one (images uint8 (N, 3, 32, 32), labels) per training file, then the test file's."""
    folder.mkdir(parents=True, exist_ok=True)
    trains, test, meta = (CIFAR100 if hundred else CIFAR10)[fmt]
    for name, (x, y) in zip((*trains, test), parts, strict=True):
        flat = x.reshape(len(x), -1)
        if fmt == "python":
            key = "fine_labels" if hundred else "labels"
            batch = {"data": flat, key: [int(v) for v in y], "batch_label": name}
            if hundred:
                batch["coarse_labels"] = [int(v) // 5 for v in y]
            (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        else:
            labels = [np.asarray(y, np.uint8)[:, None]]
            if hundred:
                labels.insert(0, (np.asarray(y, np.uint8) // 5)[:, None])
            (folder / name).write_bytes(np.concatenate([*labels, flat], axis=1).tobytes())
    if fmt == "python":
        key = "fine_label_names" if hundred else "label_names"
        (folder / meta).write_bytes(pickle.dumps({key: list(names)}, protocol=2))
    else:
        (folder / meta).write_text("\n".join(names) + "\n\n")


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fmt=st.sampled_from(["python", "binary"]), hundred=st.booleans(), sizes=st.lists(st.integers(1, 4),
       min_size=6, max_size=6), seed=st.integers(0, 1000))
def test_every_format_loads_images_labels_and_names(tmp_path, fmt, hundred, sizes, seed):
    rng = np.random.default_rng(seed)
    classes = 100 if hundred else 10
    files = 2 if hundred else 6
    parts = [(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, classes, n))
             for n in sizes[:files]]
    parts[0][1][0] = classes - 1  # every class number is within the names
    names = [f"class {i}" for i in range(classes)]
    folder = tmp_path / f"{fmt}-{hundred}-{seed}-{'-'.join(map(str, sizes))}"
    write_cifar(folder, fmt, hundred, parts, names)
    data = load_dataset(folder)
    assert data.class_names == tuple(names)
    train_x = np.concatenate([x for x, _ in parts[:-1]])
    np.testing.assert_array_equal(data.train.x, train_x.astype(np.float32) / 255)
    np.testing.assert_array_equal(data.train.y, np.concatenate([y for _, y in parts[:-1]]))
    np.testing.assert_array_equal(data.test.x, parts[-1][0].astype(np.float32) / 255)
    np.testing.assert_array_equal(data.test.y, parts[-1][1])


def test_pixels_are_the_red_green_blue_planes_in_turn(tmp_path):
    x = np.zeros((1, 3, 32, 32), np.uint8)
    x[0, 0, 0, 1], x[0, 1, 2, 0], x[0, 2, 31, 31] = 255, 255, 255
    parts = [(x, [3])] * 6
    write_cifar(tmp_path, "binary", False, parts, [str(i) for i in range(10)])
    record = (tmp_path / "test_batch.bin").read_bytes()
    assert record[0] == 3 and record[1 + 1] == 255 and record[1 + 1024 + 64] == 255 and record[-1] == 255
    data = load_dataset(tmp_path)
    assert data.test.x[0, 0, 0, 1] == 1 and data.test.x[0, 1, 2, 0] == 1 and data.test.x[0, 2, 31, 31] == 1
    assert data.test.x.sum() == 3


@pytest.mark.parametrize("fmt", ["python", "binary"])
def test_progress_is_reported_per_file_and_loading_can_be_cancelled(tmp_path, fmt):
    parts = [(np.zeros((2, 3, 32, 32), np.uint8), [1, 2])] * 6
    write_cifar(tmp_path, fmt, False, parts, [str(i) for i in range(10)])
    seen = []
    load_dataset(tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]
    seen.clear()
    with pytest.raises(LoadCancelled, match="loading cancelled"):
        load_dataset(tmp_path, progress=lambda done, _: seen.append(done), cancelled=lambda: len(seen) == 2)
    assert seen == [1, 2]  # no file read after the cancel


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_fails_with_data_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    parts = [(np.zeros((1, 3, 32, 32), np.uint8), [0])] * 6
    write_cifar(folder, "python", False, parts, [str(i) for i in range(10)])
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": _RunsCode(), "labels": [0]}, protocol=2))
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    assert "data_batch_3" in str(info.value) and "posix.system" in str(info.value)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("damage", "phrases"),
    [
        (lambda f: (f / "test_batch.bin").write_bytes(b"\0" * 3000), ["test_batch.bin", "3,000 bytes",
                                                                      "3,073-byte CIFAR records"]),
        (lambda f: (f / "data_batch_4.bin").unlink(), ["lacks data_batch_4.bin", "unpack the whole archive"]),
        (lambda f: (f / "batches.meta.txt").write_bytes(b"\xff\n"), ["batches.meta.txt", "not a text file"]),
        (lambda f: (f / "batches.meta.txt").write_text("a\nb\n"), ["label 9", "names only 2 classes"]),
    ],
)
def test_damaged_binary_files_are_named(tmp_path, damage, phrases):
    parts = [(np.zeros((2, 3, 32, 32), np.uint8), [9, 1])] * 6
    write_cifar(tmp_path, "binary", False, parts, [str(i) for i in range(10)])
    damage(tmp_path)
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    for phrase in phrases:
        assert phrase in str(info.value)


@pytest.mark.parametrize(
    ("batch", "phrases"),
    [
        ([1, 2, 3], ["data_batch_1", "not a CIFAR batch", "it is a list"]),
        ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, ["data_batch_1", "N×3072", "not 2×100"]),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, ["data_batch_1", "must be 2 class numbers"]),
    ],
)
def test_damaged_python_batches_are_named(tmp_path, batch, phrases):
    parts = [(np.zeros((2, 3, 32, 32), np.uint8), [0, 1])] * 6
    write_cifar(tmp_path, "python", False, parts, [str(i) for i in range(10)])
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    for phrase in phrases:
        assert phrase in str(info.value)


def test_cli_trains_on_a_cifar_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 4)) for _ in range(6)]
    parts[0][1][:] = 9
    write_cifar(tmp_path, "binary", False, parts, [f"c{i}" for i in range(10)])
    assert main(["train", "--data", str(tmp_path), "--epochs", "1", "--device", "cpu"]) == 0
    assert "20 training and 4 test images, 10 classes" in capsys.readouterr().out
