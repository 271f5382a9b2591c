"""A drawing or an image file as the network's input: MNIST's framing for 1×28×28, scaling for
other shapes, the data set's normalisation, and files through the image-folder decoder."""

import re

import numpy as np
import pytest
from PIL import Image

from engine.drawing import MNIST_BOX, load_image, mnist_frame, prepare_drawing
from engine.errors import DataError


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def test_ink_is_fitted_into_20_by_20_and_centred_by_mass():
    canvas = np.zeros((200, 200), dtype=np.float32)
    canvas[10:110, 150:190] = 1.0  # a tall bar in the top-right corner
    frame = mnist_frame(canvas)
    rows, cols = np.nonzero(frame > 0.05)
    assert rows.max() - rows.min() + 1 == MNIST_BOX
    assert cols.max() - cols.min() + 1 == 8  # 40/100 of 20
    cy, cx = _centre_of_mass(frame)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # where MNIST's digits have it


def test_mnist_digits_drawn_large_and_off_centre_come_back_as_themselves(mnist):
    for digit in mnist.test.x[:20, 0]:
        canvas = np.zeros((280, 280), dtype=np.float32)
        canvas[150:262, 20:132] = np.kron(digit, np.ones((4, 4), dtype=np.float32))
        frame = prepare_drawing(canvas, (1, 28, 28))[0]
        assert np.corrcoef(frame.ravel(), digit.ravel())[0, 1] > 0.99


def test_an_empty_drawing_is_blank_and_normalisation_is_the_data_sets():
    blank = prepare_drawing(np.zeros((50, 50)), (1, 28, 28), ((0.5,), (0.25,)))
    assert blank.shape == (1, 28, 28) and np.all(blank == -2.0)


def test_other_shapes_scale_the_drawing_and_copy_grey_ink_to_each_channel():
    canvas = np.zeros((40, 40), dtype=np.float32)
    canvas[:, :20] = 1.0
    image = prepare_drawing(canvas, (3, 8, 8))
    assert image.shape == (3, 8, 8)
    np.testing.assert_allclose(image[:, :, :4], 1.0, atol=1e-5)
    np.testing.assert_allclose(image[:, :, 4:], 0.0, atol=1e-5)


def test_an_image_file_goes_through_the_image_folder_decoder(tmp_path):
    pixels = np.zeros((16, 16, 3), dtype=np.uint8)
    pixels[:8] = (255, 0, 0)
    path = tmp_path / "red_top.png"
    Image.fromarray(pixels).save(path)
    rgb = load_image(path, (3, 8, 8))
    assert rgb.shape == (3, 8, 8)
    assert rgb[0, :3].min() == 1.0 and rgb[1].max() == 0.0 and rgb[0, 5:].max() == 0.0
    grey = load_image(path, (1, 8, 8), ((0.0,), (2.0,)))
    expected = round(0.299 * 255) / 255 / 2  # Pillow's L conversion of pure red, then the std
    np.testing.assert_allclose(grey[0, :3], expected, atol=1 / 255)


@pytest.mark.parametrize("side", [40, 100])  # past Pillow's warning limit (1,000 here), past its error limit
def test_an_image_file_of_more_pixels_than_pillows_limit_is_refused_before_it_is_decoded(
    tmp_path, monkeypatch, side
):
    """A PNG of 20,000×20,000 zeros is 388 KB: opened as the pad's input, it raised Pillow's own
    DecompressionBombError, and one of 10,000×10,000 took 529 MB to become 28×28."""
    path = tmp_path / "bomb.png"
    Image.new("L", (side, side)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: more than the 1,000 pixels Pillow"):
        load_image(path, (1, 28, 28))


def test_a_file_that_is_no_image_is_named_with_the_cause(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("label,pixels\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: not an image Pillow can read$"):
        load_image(path, (1, 28, 28))
