"""Augmentation in the training loop: each variation does what it says to the pixels, runs on the
device's array module, is seeded (a seeded run repeats exactly, another seed differs), and the
CLI's options and network3's expanded preset reach it."""

import numpy as np
import pytest
from strict_backend import STRICT

from engine import Network, fit, load_dataset
from engine.augment import Augment, expand
from engine.cli import main

TINY = {"input": [1, 8, 8], "classes": 2, "layers": [
    {"type": "conv", "filters": 2, "kernel": 3}, {"type": "dense", "units": 4}, {"type": "softmax"}]}


def dot(h: int = 7, w: int = 7, r: int = 3, c: int = 3) -> np.ndarray:
    x = np.zeros((1, 1, h, w), np.float32)
    x[0, 0, r, c] = 1
    return x


def where(x: np.ndarray) -> tuple[int, int]:
    r, c = np.argwhere(x[0, 0] == 1)[0]
    return int(r), int(c)


def test_shifts_move_each_image_by_at_most_k_pixels_and_reach_every_offset():
    rng = np.random.RandomState(0)
    x = np.repeat(dot(), 400, axis=0)
    moved = Augment(shift=2).apply(np, x, rng)
    offsets = {tuple(int(v) for v in np.argwhere(m[0] == 1)[0] - 3) for m in moved}
    assert offsets == {(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    assert (moved.sum(axis=(1, 2, 3)) == 1).all()  # a moved image, not a blurred one


def test_flip_mirrors_about_half_the_images_and_is_off_by_default():
    x = np.repeat(dot(c=1), 200, axis=0)
    flipped = Augment(flip=True).apply(np, x, np.random.RandomState(1))
    columns = [where(f[None])[1] for f in flipped]
    assert set(columns) == {1, 5} and 60 < columns.count(5) < 140
    assert not Augment().active and np.array_equal(Augment().apply(np, x, np.random.RandomState(1)), x)


def test_rotation_turns_about_the_centre_by_at_most_the_angle():
    x = dot(r=0, c=3)  # top middle of a 7×7 image
    for seed in range(20):
        turned = Augment(rotate=90).apply(np, x, np.random.RandomState(seed))
        for r, c in np.argwhere(turned[0, 0] == 1):  # nearest pixels round the circle's radius 3
            assert 2.5 <= np.hypot(r - 3, c - 3) <= 4.3 and r <= 3  # within a quarter turn
    assert where(Augment(rotate=1).apply(np, x, np.random.RandomState(0))) == (0, 3)


def test_it_runs_on_the_device_array_module():
    x = STRICT.to_device(np.repeat(dot(), 4, axis=0))
    out = Augment(shift=1, flip=True, rotate=10).apply(STRICT.xp, x, STRICT.rng(0))
    assert out.shape == (4, 1, 7, 7)


def test_a_seeded_run_repeats_exactly_and_augmentation_changes_it():
    rng = np.random.default_rng(0)
    data = (rng.random((64, 1, 8, 8), dtype=np.float32), np.arange(64) % 2)

    def weights(augment, seed=0):
        net = Network(TINY, seed=seed, device="cpu", init="he")
        fit(net, data, epochs=2, batch_size=16, augment=augment, threads=1)
        return net.state_dict()

    a, b = weights(Augment(shift=1, flip=True, rotate=10)), weights(Augment(shift=1, flip=True, rotate=10))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    plain = weights(None)
    assert any(not np.array_equal(a[k], plain[k]) for k in a)


def test_expand_is_network3s_five_copies_moved_one_pixel():
    x, y = dot(5, 5, 2, 2), np.array([7])
    big, labels = expand(x, y)
    assert big.shape == (5, 1, 5, 5) and list(labels) == [7] * 5
    assert [where(b[None]) for b in big] == [(2, 2), (1, 2), (3, 2), (2, 1), (2, 3)]
    edge = dot(5, 5, 0, 0)
    assert expand(edge, y)[0][1].sum() == 0  # moved off the top: blank, not wrapped round


def test_cli_options_reach_training(capsys):
    argv = ["train", "--epochs", "1", "--limit", "200", "--device", "cpu"]
    assert main([*argv, "--shift", "2", "--flip", "--rotate", "5"]) == 0
    augmented = capsys.readouterr().out
    assert main(argv) == 0
    plain = capsys.readouterr().out
    assert augmented.split("train loss")[1][:8] != plain.split("train loss")[1][:8]
    assert main([*argv, "--expand"]) == 0
    assert "1,000 training and" in capsys.readouterr().out
    assert main([*argv, "--rotate", "200"]) == 2
    assert "rotate must be between 0 and 180 degrees" in capsys.readouterr().err
    # a shift beyond int64 stopped training with NumPy's "low is out of bounds for int64"
    assert main([*argv, "--shift", str(10**30)]) == 2
    assert "--shift: shift must be a whole number of pixels from 0 to 4,096" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value"), [("shift", -1), ("shift", 1.5), ("shift", 4097), ("rotate", -3)])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        Augment(**{field: value})


def test_builtin_data_stays_as_it_is():
    data = load_dataset()
    assert len(data.train.x) == 4000 and len(data.test.x) == 1000
