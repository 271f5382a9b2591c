"""Counts are written with proper singulars and plurals through engine.wording.plural wherever a
count can be 1: each message below is read once with 1 and once with several."""

import json
import re

import numpy as np
import pytest

from engine import DataError, Network, load_dataset
from engine.cli import main
from engine.errors import MAX_MESSAGE_CHARS, clip
from engine.spec import summary
from engine.training import fit_problem
from engine.wording import plural


def test_plural_writes_the_count_and_the_word_for_it():
    written = [plural(n, "image") for n in (0, 1, 2, 1000)]
    assert written == ["0 images", "1 image", "2 images", "1,000 images"]
    assert plural(1, "class") == "1 class" and plural(3, "class") == "3 classes"
    assert plural(2, "mini-batch") == "2 mini-batches" and plural(2, "epoch") == "2 epochs"
    assert plural(2, "index", "indices") == "2 indices"


@pytest.mark.parametrize(
    ("count", "filters", "units"), [(1, "1 filter 3×3,", "1 unit,"), (3, "3 filters 3×3,", "3 units,")]
)
def test_a_layers_description_counts_its_filters_and_units(count, filters, units):
    text = summary({
        "input": [1, 8, 8],
        "classes": 3,
        "layers": [
            {"type": "conv", "filters": count, "kernel": 3, "activation": "relu"},
            {"type": "dense", "units": count, "activation": "relu"},
            {"type": "softmax"},
        ],
    })
    assert filters in text and units in text


@pytest.mark.parametrize(("images", "words"), [(1, "has 1 image but"), (3, "has 3 images but")])
def test_images_and_labels_that_differ_in_number_are_counted(tmp_path, images, words):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((images, 8, 8), np.float32), y=np.zeros(2, np.int64))
    with pytest.raises(DataError, match=f"{words} .* has 2 labels;"):
        load_dataset(str(path))
    net = Network({"input": [1, 8, 8], "classes": 2, "layers": [{"type": "softmax"}]}, device="cpu")
    x = np.zeros((images, 1, 8, 8), np.float32)
    assert fit_problem(net, (x, np.zeros(2, np.int64))) == f"the data {words} 2 labels"


@pytest.mark.parametrize(
    ("shape", "words"),
    [((2, 1, 5, 3), "2 images of 1 channel of 5×3"), ((1, 3, 5, 4), "1 image of 3 channels of 5×4")],
)
def test_an_image_shape_that_reads_two_ways_counts_images_and_channels(tmp_path, shape, words):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros(shape, np.float32), y=np.zeros(shape[0], np.int64))
    with pytest.raises(DataError, match=words):
        load_dataset(str(path))


@pytest.mark.parametrize(("size", "words"), [(1, "(1 byte)"), (2, "(2 bytes)")])
def test_a_too_short_idx_file_says_how_many_bytes_it_has(tmp_path, size, words):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(bytes(size))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes(size))
    with pytest.raises(DataError, match=re.escape(f"too short to be an IDX file {words}")):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize(("files", "words"), [(1, "(1 file could not"), (2, "(2 files could not")])
def test_a_folder_of_unreadable_images_counts_them(tmp_path, files, words):
    for i in range(files):
        (tmp_path / f"class{i}").mkdir()
        (tmp_path / f"class{i}" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=re.escape(f"holds no readable images {words}")):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize(
    ("layers", "words"), [(1, "network: 1 layer, 7,850 parameters;"), (2, "network: 2 layers,")]
)
def test_trains_header_counts_the_layers(tmp_path, capsys, layers, words):
    spec = {"input": [1, 28, 28], "classes": 10, "layers": [{"type": "softmax"}]}
    if layers == 2:
        spec["layers"].insert(0, {"type": "dense", "units": 4, "activation": "relu"})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["train", "--spec", str(path), "--epochs", "1", "--limit", "64", "--device", "cpu"]) == 0
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(("classes", "words"), [(1, "has 1 class but"), (3, "has 3 classes but")])
def test_labels_that_do_not_match_the_networks_classes_are_counted(classes, words):
    net = Network({"input": [1, 8, 8], "classes": 2, "layers": [{"type": "softmax"}]}, device="cpu")
    x, y = np.zeros((3, 1, 8, 8), np.float32), np.arange(3) % classes
    assert fit_problem(net, (x, y), exact_classes=True) == f"the data {words} the network has 2"


@pytest.mark.parametrize(
    ("names", "words"), [(["a"], "lists only 1 class;"), (["a", "b"], "lists only 2 classes;")]
)
def test_too_few_class_names_are_counted(tmp_path, names, words):
    path = tmp_path / "data.npz"
    x = np.zeros((4, 8, 8), np.float32)
    np.savez(path, x=x, y=np.arange(4), x_test=x, y_test=np.arange(4), class_names=np.array(names))
    with pytest.raises(DataError, match=words):
        load_dataset(str(path))


@pytest.mark.parametrize(
    ("images", "words"), [(1, "has only 1 image, too few"), (2, "has only 2 images, too few")]
)
def test_too_few_images_to_hold_out_are_counted(tmp_path, images, words):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((images, 8, 8), np.float32), y=np.zeros(images, np.int64))
    with pytest.raises(DataError, match=words):
        load_dataset(str(path))


@pytest.mark.parametrize(("extra", "words"), [(1, "(1 more character)"), (2, "(2 more characters)")])
def test_a_clipped_message_counts_what_it_left_out(extra, words):
    assert clip("x" * (MAX_MESSAGE_CHARS + extra)).endswith(f"… {words}")
