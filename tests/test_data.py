import gzip
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from engine.data import BUILTIN, DataError, Dataset, Split, load_dataset, read_idx, with_normalization

_CODES = {
    np.dtype("u1"): 0x08,
    np.dtype("i1"): 0x09,
    np.dtype("i2"): 0x0B,
    np.dtype("i4"): 0x0C,
    np.dtype("f4"): 0x0D,
    np.dtype("f8"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, _CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def small_set(n: int = 20, classes: int = 4, size: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    y = (np.arange(n) % classes).astype(np.uint8)
    return x, y


def write_mnist_folder(folder: Path, *, suffix: str = "", dotted: bool = False, test=True):
    folder.mkdir(exist_ok=True)
    sep = "." if dotted else "-"
    x, y = small_set(20)
    xt, yt = small_set(8, seed=1)
    write_idx(folder / f"train-images{sep}idx3-ubyte{suffix}", x)
    write_idx(folder / f"train-labels{sep}idx1-ubyte{suffix}", y)
    if test:
        write_idx(folder / f"t10k-images{sep}idx3-ubyte{suffix}", xt)
        write_idx(folder / f"t10k-labels{sep}idx1-ubyte{suffix}", yt)
    return x, y, xt, yt


def raises(source, *phrases: str, name: str | None = None, **kwargs) -> str:
    """Load ``source``, expect a DataError naming the file and the problem; return the message."""
    with pytest.raises(DataError) as info:
        load_dataset(source, **kwargs)
    message = str(info.value)
    assert (name or Path(source).name) in message
    for phrase in phrases:
        assert phrase in message, message
    return message


# --- the built-in set ------------------------------------------------------------------------


def test_builtin_shapes_and_types(mnist: Dataset) -> None:
    assert mnist.name == BUILTIN
    assert mnist.train.x.shape == (4000, 1, 28, 28)
    assert mnist.test.x.shape == (1000, 1, 28, 28)
    assert mnist.train.y.shape == (4000,) and mnist.test.y.shape == (1000,)
    for split in (mnist.train, mnist.test):
        assert isinstance(split, Split)
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64
        assert split.x.flags.c_contiguous and split.y.flags.c_contiguous
        assert split.x.min() == 0.0 and split.x.max() == 1.0
    assert mnist.input_shape == (1, 28, 28)
    assert mnist.classes == 10
    assert mnist.class_names == tuple("0123456789")
    assert mnist.normalization is None


def test_builtin_is_balanced(mnist: Dataset) -> None:
    assert np.bincount(mnist.train.y).tolist() == [400] * 10
    assert np.bincount(mnist.test.y).tolist() == [100] * 10


def test_builtin_loads_quickly() -> None:
    best = min(_cpu_seconds(load_dataset) for _ in range(3))
    assert best < 0.5  # the bound only catches a pathological slowdown; CPU time, so a busy machine passes


def _cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def test_read_idx_on_builtin_file() -> None:
    assets = Path(__file__).resolve().parent.parent / "assets" / BUILTIN
    labels = read_idx(assets / "t10k-labels-idx1-ubyte.gz")
    assert labels.dtype == np.uint8 and labels.shape == (1000,)
    assert labels.flags.writeable


# --- IDX folders -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dotted", [False, True])
def test_idx_folder_round_trip(tmp_path: Path, suffix: str, dotted: bool) -> None:
    x, y, xt, yt = write_mnist_folder(tmp_path / "digits", suffix=suffix, dotted=dotted)
    data = load_dataset(tmp_path / "digits")
    assert data.name == "digits"
    np.testing.assert_array_equal(data.train.x[:, 0], x / np.float32(255))
    np.testing.assert_array_equal(data.train.y, y)
    np.testing.assert_array_equal(data.test.x[:, 0], xt / np.float32(255))
    np.testing.assert_array_equal(data.test.y, yt)
    assert data.classes == 4 and data.input_shape == (1, 5, 5)


def test_idx_folder_accepts_prefixed_test_names(tmp_path: Path) -> None:
    x, y = small_set(10)
    write_idx(tmp_path / "emnist-digits-train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "emnist-digits-train-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "emnist-digits-test-images-idx3-ubyte.gz", x[:4])
    write_idx(tmp_path / "emnist-digits-test-labels-idx1-ubyte.gz", y[:4])
    assert len(load_dataset(tmp_path).test.y) == 4


def test_idx_folder_with_both_gz_and_plain_copies(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, suffix=".gz")
    x, *_ = write_mnist_folder(tmp_path)
    assert load_dataset(tmp_path).train.x.shape == (20, 1, 5, 5)


def test_idx_folder_without_test_split_holds_out_validation(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    data = load_dataset(tmp_path, validation_fraction=0.2)
    assert len(data.train.y) == 16 and len(data.test.y) == 4


def test_gzip_recognised_by_content_not_name(tmp_path: Path) -> None:
    x, _ = small_set(3)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(idx_bytes(x))  # unpacked by a browser but still named .gz
    np.testing.assert_array_equal(read_idx(path), x)


@pytest.mark.parametrize("dtype", list(_CODES))
def test_read_idx_every_type(tmp_path: Path, dtype: np.dtype) -> None:
    lowest = 0 if dtype.kind == "u" else -3
    array = np.arange(lowest, lowest + 12).reshape(3, 4).astype(dtype)
    result = read_idx(write_idx(tmp_path / "a.idx", array))
    assert result.dtype == dtype and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


# --- npz archives ----------------------------------------------------------------------------


def test_npz_with_test_split(tmp_path: Path) -> None:
    x, y = small_set(12)
    path = tmp_path / "set.npz"
    np.savez(path, x=x, y=y.astype(np.int32), x_test=x[:5], y_test=y[:5])
    data = load_dataset(path)
    assert data.name == "set.npz"
    assert data.train.x.shape == (12, 1, 5, 5) and data.test.x.shape == (5, 1, 5, 5)
    assert data.train.y.dtype == np.int64
    assert data.class_names == ("0", "1", "2", "3")


def test_npz_without_test_split_is_stratified_and_seeded(tmp_path: Path) -> None:
    x, y = small_set(100, classes=10)
    path = tmp_path / "set.npz"
    np.savez(path, x=x, y=y)
    a = load_dataset(path, validation_fraction=0.2, seed=3)
    b = load_dataset(path, validation_fraction=0.2, seed=3)
    c = load_dataset(path, validation_fraction=0.2, seed=4)
    assert len(a.train.y) == 80 and len(a.test.y) == 20
    assert np.bincount(a.test.y).tolist() == [2] * 10
    np.testing.assert_array_equal(a.test.x, b.test.x)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert not np.array_equal(a.test.x, c.test.x)
    # Every image lands in exactly one split.
    rows = {r.tobytes() for r in np.concatenate([a.train.x, a.test.x])}
    assert len(rows) == 100 and len(a.train.x) + len(a.test.x) == 100


def test_validation_split_keeps_exact_size_with_uneven_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, size=203)
    path = tmp_path / "set.npz"
    np.savez(path, x=rng.random((203, 4, 4)), y=y)
    data = load_dataset(path, validation_fraction=0.15)
    assert len(data.test.y) == round(203 * 0.15) and len(data.train.y) == 203 - 30


def test_npz_channels_first_with_class_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((10, 3, 6, 7), dtype=np.float32)
    path = tmp_path / "colour.npz"
    names = np.array(["cat", "dog", "bird"])
    np.savez(path, x=x, y=np.arange(10) % 2, x_test=x[:2], y_test=[0, 1], class_names=names)
    data = load_dataset(path)
    assert data.input_shape == (3, 6, 7)
    assert data.class_names == ("cat", "dog", "bird") and data.classes == 3
    np.testing.assert_array_equal(data.train.x, x)  # floats are used as they are


@pytest.mark.parametrize(
    ("pixels", "scale"),
    [(np.uint16, 65535), (np.int64, 255), (np.int8, 255)],
)
def test_integer_pixels_are_scaled(tmp_path: Path, pixels, scale: int) -> None:
    x = np.array([[[0, 100], [50, 127]]] * 4, dtype=pixels)
    path = tmp_path / "ints.npz"
    np.savez(path, x=x, y=[0, 1, 0, 1], x_test=x[:2], y_test=[0, 1])
    np.testing.assert_allclose(load_dataset(path).train.x[:, 0], x / scale, rtol=1e-6)


def test_normalize_standardises_train_and_applies_same_to_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 3, 5, 5)) * np.array([1.0, 0.5, 0.2])[:, None, None] + 0.1
    path = tmp_path / "colour.npz"
    np.savez(path, x=x, y=np.arange(40) % 4, x_test=x[:8], y_test=np.arange(8) % 4)
    data = load_dataset(path, normalize=True)
    np.testing.assert_allclose(data.train.x.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(data.train.x.std(axis=(0, 2, 3)), 1, atol=1e-5)
    mean, std = (np.array(v)[:, None, None] for v in data.normalization)
    assert mean.shape == (3, 1, 1)
    np.testing.assert_allclose(data.test.x, (x[:8] - mean) / std, atol=1e-5)


def test_normalize_builtin_and_constant_channel(mnist: Dataset, tmp_path: Path) -> None:
    data = load_dataset(normalize=True)
    (mean,), (std,) = data.normalization
    assert mean == pytest.approx(mnist.train.x.mean(), rel=1e-5)
    assert abs(data.train.x.mean()) < 1e-5 and data.train.x.std() == pytest.approx(1, abs=1e-4)
    path = tmp_path / "flat.npz"
    np.savez(path, x=np.full((10, 3, 3), 0.5), y=np.arange(10) % 2)
    flat = load_dataset(path, normalize=True)
    assert np.isfinite(flat.train.x).all() and flat.normalization == ((0.5,), (1.0,))


def test_recorded_normalization_is_applied_exactly_as_in_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "colour.npz"
    np.savez(
        path,
        x=rng.random((30, 2, 5, 5)),
        y=np.arange(30) % 3,
        x_test=rng.random((6, 2, 5, 5)),
        y_test=np.arange(6) % 3,
    )
    trained = load_dataset(path, normalize=True)
    raw = load_dataset(path)
    again = with_normalization(raw, [list(s) for s in trained.normalization])  # as a weight file holds it
    assert again.normalization == trained.normalization
    np.testing.assert_array_equal(again.train.x, trained.train.x)
    np.testing.assert_array_equal(again.test.x, trained.test.x)
    assert raw.normalization is None and raw.train.x.min() >= 0  # the given data set is left alone
    assert with_normalization(raw, None) is raw
    with pytest.raises(DataError, match="trained on 1-channel data but colour.npz has 2 channels"):
        with_normalization(raw, [[0.5], [1.0]])


def test_limit_keeps_first_training_images(mnist: Dataset) -> None:
    data = load_dataset(limit=50)
    np.testing.assert_array_equal(data.train.x, mnist.train.x[:50])
    assert len(data.test.y) == 1000 and data.classes == 10


def test_limit_with_held_out_validation(tmp_path: Path) -> None:
    x, y = small_set(100, classes=10)
    path = tmp_path / "set.npz"
    np.savez(path, x=x, y=y)
    full = load_dataset(path)
    data = load_dataset(path, limit=7)
    assert len(data.train.y) == 7 and len(data.test.y) == 10
    np.testing.assert_array_equal(data.train.x, full.train.x[:7])


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        load_dataset(validation_fraction=1.0)
    with pytest.raises(ValueError, match="limit"):
        load_dataset(limit=0)


# --- bad files -------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    raises(tmp_path / "nowhere.npz", "does not exist")


def test_a_data_set_of_one_class_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Labels all 0 gave "classes must be a whole number ≥ 2, got 1", of a network the user had
    not written, naming no file."""
    path = tmp_path / "one.npz"
    np.savez(path, x=np.zeros((20, 8, 8), np.uint8), y=np.zeros(20, np.int64))
    raises(path, "array 'y' in", "every label is class '0', and a classifier needs two or more classes")


def test_a_file_of_another_kind_is_refused_with_the_kinds_a_data_set_may_be(tmp_path: Path) -> None:
    """A CSV was refused as "not an .npz archive ...: File is not a zip file", naming no other
    kind; and the kinds named for a missing path left out image folders and CIFAR."""
    table = tmp_path / "digits.csv"
    table.write_text("label,pixel0\n1,255\n")
    for path in (table, tmp_path / "nowhere"):
        message = raises(path, "CIFAR-10 or CIFAR-100 batches or of images (a folder per class), or an .npz")
        assert message.startswith(f"{path}: ")


def _folder_with_bad_train_images(tmp_path: Path, data: bytes) -> Path:
    write_mnist_folder(tmp_path, test=False)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(data)
    return tmp_path


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"\x12\x34\x08\x03" + bytes(100), "wrong magic number"),
        (b"\x00\x00\x07\x03" + bytes(100), "unknown IDX data type"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x14", "truncated"),
        (idx_bytes(small_set(20)[0])[:-10], "truncated"),
        (idx_bytes(small_set(20)[0]) + b"junk", "extra data"),
        (gzip.compress(idx_bytes(small_set(20)[0]))[:-30], "damaged"),
    ],
)
def test_bad_idx_file(tmp_path: Path, data: bytes, phrase: str) -> None:
    folder = _folder_with_bad_train_images(tmp_path, data)
    raises(folder, phrase, name="train-images-idx3-ubyte")


def test_labels_file_holding_images(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", small_set(20)[0])
    raises(tmp_path, "3-D", "looks like images", name="train-labels-idx1-ubyte")


def test_images_file_holding_labels(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    write_idx(tmp_path / "train-images-idx3-ubyte", small_set(20)[1])
    raises(tmp_path, "looks like labels", name="train-images-idx3-ubyte")


def test_image_and_label_counts_differ(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", small_set(19)[1])
    message = raises(tmp_path, "20 images", "19 labels", name="train-labels-idx1-ubyte")
    assert "train-images-idx3-ubyte" in message


def test_float_labels_in_idx(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", small_set(20)[1].astype(np.float32))
    raises(tmp_path, "whole numbers", name="train-labels-idx1-ubyte")


def test_folder_without_idx_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    raises(tmp_path, "no MNIST-format IDX files")


def test_folder_missing_labels(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path, test=False)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    raises(tmp_path, "no training labels file", name="train-labels-idx1-ubyte")


def test_folder_with_test_images_but_no_test_labels(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    raises(tmp_path, "no matching test labels", name="t10k-images-idx3-ubyte")


def test_folder_with_two_different_sets(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "train-images.idx3-ubyte", small_set(20)[0])
    raises(tmp_path, "several training images files", name="train-images.idx3-ubyte")


def test_test_label_never_seen_in_training(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 4, 9, 0, 1], np.uint8))
    raises(tmp_path, "every class must appear in training", name="t10k-labels-idx1-ubyte")


def test_test_images_of_another_size(tmp_path: Path) -> None:
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", small_set(8, size=6)[0])
    raises(tmp_path, "same size", name="t10k-images-idx3-ubyte")


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


_X, _Y = small_set(10)


@pytest.mark.parametrize(
    ("arrays", "phrases"),
    [
        ({"x": _X}, ["no array named 'y'"]),
        ({"y": _Y}, ["no array named 'x'"]),
        ({"x": _X, "y": _Y, "x_test": _X}, ["'x_test' but no 'y_test'"]),
        ({"x": _X[0], "y": _Y}, ["2-D", "(N, H, W) or (N, C, H, W)"]),
        ({"x": _X[None, None], "y": _Y}, ["5-D"]),
        ({"x": _X, "y": _Y.astype(float)}, ["'y'", "whole numbers"]),
        ({"x": _X, "y": _Y[:, None]}, ["'y'", "1-D"]),
        ({"x": _X, "y": _Y.astype(int) - 1}, ["negative labels"]),
        ({"x": _X, "y": _Y, "x_test": _X, "y_test": _Y + 3}, ["'y_test'", "appear in training"]),
        ({"x": _X, "y": _Y.astype(np.int64) * 10**6}, ["at most"]),
        ({"x": _X[:0], "y": _Y[:0]}, ["no images"]),
        ({"x": _X.astype(bool), "y": _Y}, ["pixels must be numbers"]),
        ({"x": _X.astype(np.int32) * 2, "y": _Y}, ["between 0 and 255"]),
        ({"x": np.full((10, 2, 2), np.nan), "y": _Y}, ["NaN"]),
        ({"x": _X, "y": _Y, "class_names": np.array(["a", "b"])}, ["only 2 classes"]),
        ({"x": _X, "y": _Y, "class_names": np.arange(4)}, ["array of strings"]),
        ({"x": _X[:2], "y": _Y[:2]}, ["too few to hold out"]),
    ],
)
def test_bad_npz(tmp_path: Path, arrays: dict, phrases: list[str]) -> None:
    raises(_npz(tmp_path, **arrays), *phrases)


def test_npz_with_pickled_objects(tmp_path: Path) -> None:
    names = np.array(["a", 1, None], dtype=object)
    path = _npz(tmp_path, x=_X, y=_Y, class_names=names)
    raises(path, "'class_names'", "Python objects")


@pytest.mark.parametrize("content", [b"", b"this is not an archive at all", gzip.compress(b"x" * 100)])
def test_garbage_npz(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    raises(path, "not an .npz archive")


def test_truncated_npz(tmp_path: Path) -> None:
    path = _npz(tmp_path, x=_X, y=_Y)
    path.write_bytes(path.read_bytes()[:200])
    raises(path, "not an .npz archive")


def test_npy_instead_of_npz(tmp_path: Path) -> None:
    path = tmp_path / "images.npy"
    np.save(path, _X)
    raises(path, "not an .npz archive")
