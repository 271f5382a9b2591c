"""Channels-last .npz images: told from the shape, transposed with a note, refused when the shape
reads both ways, and chosen with `layout` / `--layout`."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.data import DataError, load_dataset


def write_npz(path: Path, x: np.ndarray, classes: int = 2) -> Path:
    np.savez(path, x=x, y=np.arange(len(x)) % classes)
    return path


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    n=st.integers(2, 6),
    height=st.integers(5, 9),
    width=st.integers(5, 9),
    channels=st.sampled_from([1, 3, 4]),
    seed=st.integers(0, 1000),
)
def test_channels_last_images_are_transposed_with_a_note(tmp_path, n, height, width, channels, seed):
    x = np.random.default_rng(seed).integers(0, 256, (n * 5, height, width, channels), dtype=np.uint8)
    data = load_dataset(write_npz(tmp_path / "rgb.npz", x), validation_fraction=0.2)
    assert data.input_shape == (channels, height, width)
    train_and_test = np.concatenate([data.train.x, data.test.x])
    expected = x.transpose(0, 3, 1, 2).astype(np.float32) / 255
    # the split reorders images; each loaded image is one of the originals, channel for channel
    assert sorted(map(bytes, train_and_test)) == sorted(map(bytes, expected))
    (note,) = data.notes
    assert "rgb.npz" in note and f"read as channels-last (N, H, W, C) images of {height}×{width}" in note
    assert "--layout nchw" in note


def test_channels_first_images_are_read_as_they_are(tmp_path):
    x = np.random.default_rng(0).random((10, 3, 8, 6), dtype=np.float32)
    data = load_dataset(write_npz(tmp_path / "f.npz", x), validation_fraction=0.2)
    assert data.input_shape == (3, 8, 6) and data.notes == ()


def test_a_shape_that_reads_both_ways_is_refused_until_a_layout_is_chosen(tmp_path):
    x = np.random.default_rng(0).random((10, 3, 8, 4), dtype=np.float32)
    path = write_npz(tmp_path / "both.npz", x)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    readings = ("10 images of 3 channels of 8×4", "10 images of 3×8 with 4 channels")
    for phrase in ("both.npz", "10×3×8×4", *readings, "--layout nchw or --layout nhwc"):
        assert phrase in message
    assert load_dataset(path, layout="nchw", validation_fraction=0.2).input_shape == (3, 8, 4)
    nhwc = load_dataset(path, layout="nhwc", validation_fraction=0.2)
    assert nhwc.input_shape == (4, 3, 8) and nhwc.notes == ()


def test_cli_says_the_layout_in_one_line_and_takes_the_option(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    path = write_npz(tmp_path / "cl.npz", x)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"input": [3, 6, 6], "classes": 2, "layers": [
        {"type": "conv", "filters": 2, "kernel": 3}, {"type": "softmax"}]}))
    argv = ["train", "--data", str(path), "--spec", str(spec), "--epochs", "1", "--device", "cpu"]
    assert main(argv) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "cl.npz is 40×6×6×3: read as channels-last" in notes[0]
    assert main([*argv, "--layout", "nchw"]) == 1
    assert "has 6×6×3 images but the network expects 3×6×6" in capsys.readouterr().err
