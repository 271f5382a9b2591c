"""Image folders: class names from folders, grey/RGB told from the files or forced, resizing to the
most common or a chosen size, train/test folders or a held-out fraction, unreadable files skipped
and named, progress and cancelling; hypothesis generates the images and folders."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.cli import main
from engine.data import DataError, load_dataset
from engine.image_folder import LoadCancelled

FORMATS = {"png": "PNG", "bmp": "BMP"}  # lossless, so pixels can be compared exactly


def save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, FORMATS.get(path.suffix[1:], "JPEG"))


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    counts=st.lists(st.integers(2, 4), min_size=2, max_size=4),
    rgb=st.booleans(),
    height=st.integers(3, 9),
    width=st.integers(3, 9),
    ext=st.sampled_from(["png", "bmp"]),
    seed=st.integers(0, 1000),
)
def test_generated_folders_load_exactly(tmp_path, counts, rgb, height, width, ext, seed):
    rng = np.random.default_rng(seed)
    # Every example gets its own folder (tmp_path is shared by them): counts [4, 2] and [2, 4]
    # must not meet in one.
    root = tmp_path / f"set{seed}-{'-'.join(map(str, counts))}-{rgb}-{height}x{width}-{ext}"
    names = [f"class {chr(97 + i)}" for i in range(len(counts))]
    images = {}
    for label, (name, count) in enumerate(zip(names, counts, strict=True)):
        for i in range(count):
            shape = (height, width, 3) if rgb else (height, width)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            save(root / "train" / name / f"{i}.{ext}", pixels)
            images[(label, pixels.tobytes())] = pixels
        save(root / "test" / name / f"t.{ext}", np.zeros(shape, np.uint8))
    data = load_dataset(root)
    assert data.class_names == tuple(names)
    assert data.input_shape == ((3 if rgb else 1), height, width)
    assert len(data.train.x) == sum(counts) and len(data.test.x) == len(counts)
    for x, y in zip(*data.train, strict=True):
        hwc = np.round(x * 255).astype(np.uint8).transpose(1, 2, 0)
        assert (int(y), (hwc if rgb else hwc[..., 0]).tobytes()) in images
    assert data.test.x.max() == 0 and sorted(data.test.y) == list(range(len(counts)))
    assert data.notes == (f"{root}: {sum(counts) + len(counts):,} images of {len(counts)} classes, read as "
                          f"{'RGB' if rgb else 'grey'} {height}×{width}.",)


def test_mixed_sizes_resize_to_the_most_common_or_the_chosen_size(tmp_path):
    for i in range(3):
        save(tmp_path / "a" / f"{i}.png", np.full((6, 4), 200, np.uint8))
    save(tmp_path / "b" / "big.png", np.full((12, 8), 100, np.uint8))
    save(tmp_path / "b" / "other.png", np.full((6, 4), 100, np.uint8))
    data = load_dataset(tmp_path, validation_fraction=0.4)
    assert data.input_shape == (1, 6, 4)
    pixels = sorted({round(float(v) * 255) for v in np.concatenate([data.train.x, data.test.x]).ravel()})
    assert pixels == [100, 200]  # uniform images stay uniform when resized
    assert load_dataset(tmp_path, image_size=(5, 7), validation_fraction=0.4).input_shape == (1, 5, 7)


def test_one_colour_image_makes_the_set_rgb_unless_grey_is_forced(tmp_path):
    save(tmp_path / "a" / "grey.png", np.full((5, 5), 90, np.uint8))
    save(tmp_path / "b" / "red.png", np.tile(np.array([255, 0, 0], np.uint8), (5, 5, 1)))
    save(tmp_path / "b" / "grey2.png", np.full((5, 5), 30, np.uint8))
    data = load_dataset(tmp_path, validation_fraction=0.34)
    assert data.input_shape == (3, 5, 5)
    grey = load_dataset(tmp_path, colour="grey", validation_fraction=0.34)
    assert grey.input_shape == (1, 5, 5)
    (tmp_path / "b" / "red.png").unlink()
    assert load_dataset(tmp_path, validation_fraction=0.5).input_shape == (1, 5, 5)
    assert load_dataset(tmp_path, colour="rgb", validation_fraction=0.5).input_shape == (3, 5, 5)


def test_unreadable_files_are_skipped_counted_and_the_first_few_named(tmp_path):
    for i in range(4):
        save(tmp_path / "cat" / f"{i}.png", np.zeros((4, 4), np.uint8))
        save(tmp_path / "dog" / f"{i}.jpg", np.full((4, 4), 255, np.uint8))
    for i in range(5):
        (tmp_path / "dog" / f"broken{i}.png").write_bytes(b"not an image")
    good = tmp_path / "cat" / "0.png"
    (tmp_path / "cat" / "cut.png").write_bytes(good.read_bytes()[:40])
    data = load_dataset(tmp_path, validation_fraction=0.25)
    assert len(data.train.x) + len(data.test.x) == 8
    (summary, skipped) = data.notes
    assert "8 images of 2 classes" in summary
    assert skipped.startswith(f"{tmp_path}: skipped 6 unreadable files: ")
    assert skipped.count("(") == 3 and skipped.endswith("and 3 more.")


def test_a_folder_without_images_or_with_an_unknown_test_class(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no MNIST-format IDX files.*no class folders of images"):
        load_dataset(tmp_path / "empty")
    save(tmp_path / "split" / "train" / "a" / "0.png", np.zeros((3, 3), np.uint8))
    save(tmp_path / "split" / "test" / "zebra" / "0.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(DataError, match="zebra: is a class the training folder"):
        load_dataset(tmp_path / "split")
    (tmp_path / "bad" / "a").mkdir(parents=True)
    (tmp_path / "bad" / "a" / "x.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="holds no readable images"):
        load_dataset(tmp_path / "bad")


def test_progress_is_reported_and_loading_can_be_cancelled(tmp_path):
    for i in range(6):
        save(tmp_path / ("a" if i % 2 else "b") / f"{i}.png", np.zeros((3, 3), np.uint8))
    seen = []
    load_dataset(tmp_path, progress=lambda done, total: seen.append((done, total)), validation_fraction=0.34)
    assert seen == [(i, 6) for i in range(1, 7)]
    with pytest.raises(LoadCancelled, match="loading cancelled"):
        load_dataset(tmp_path, progress=lambda done, _: seen.append(done), cancelled=lambda: len(seen) > 8)


def test_cli_loads_an_image_folder_with_its_options(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("left", "right"):
        for i in range(10):
            save(tmp_path / "imgs" / name / f"{i}.png", rng.integers(0, 256, (7, 7, 3), dtype=np.uint8))
    argv = ["train", "--data", str(tmp_path / "imgs"), "--epochs", "1", "--device", "cpu", "--colour", "grey",
            "--image-size", "28x28"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "read as grey 28×28" in out and "18 training and 2 test images, 2 classes" in out
    assert main([*argv[:-1], "28x"]) == 2
    assert "'28x' is not a size such as 28x28" in capsys.readouterr().err
