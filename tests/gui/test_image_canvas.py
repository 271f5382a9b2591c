"""The plain Qt drawing of the filter view (and of one feature map large): colours from the same
colour maps as the pyqtgraph views, gaps left transparent, round ticks on the colour bar, and the
canvas reporting the image point under the mouse."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt

from gui import theme
from gui.color_bar import ColorBar, tick_text, ticks
from gui.image_canvas import ImageCanvas


@pytest.mark.parametrize("name", [theme.FILTER_COLORMAP, theme.MAP_COLORMAP])
def test_the_colour_tables_are_pyqtgraphs_colour_maps(name):
    expected = pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)
    np.testing.assert_array_equal(theme.colour_table(name), expected)


def test_values_are_coloured_over_their_levels_and_nan_is_transparent():
    values = np.array([[-1.0, 0.0, 1.0, np.nan], [-5.0, 5.0, 0.5, -0.5]], dtype=np.float32)
    rgba = theme.to_rgba(values, (-1.0, 1.0), theme.FILTER_COLORMAP)
    table = theme.colour_table(theme.FILTER_COLORMAP)
    assert rgba.shape == (2, 4, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[0, :3, :3], table[[0, 128, 255]])
    np.testing.assert_array_equal(rgba[1, :2, :3], table[[0, 255]])  # beyond the levels: the ends
    assert list(rgba[..., 3].ravel()) == [255, 255, 255, 0, 255, 255, 255, 255]
    colours = theme.to_rgba(np.array([[[-1.0, 0.0, 1.0]]]), (-1.0, 1.0), None)  # an RGB filter
    assert list(colours[0, 0]) == [0, 128, 255, 255]


@pytest.mark.parametrize(
    ("low", "high", "most", "expected"),
    [
        (-1.2, 1.2, 5, [-1.0, -0.5, 0.0, 0.5, 1.0]),
        (-0.3, 0.3, 7, [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]),
        (-0.3, 0.3, 4, [-0.2, 0.0, 0.2]),
        (0.0, 4.0, 9, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]),
        (0.0, 0.0, 5, []),
    ],
)
def test_the_colour_bar_ticks_round_values(low, high, most, expected):
    assert ticks(low, high, most) == pytest.approx(expected)


def test_tick_labels_have_the_decimals_their_step_needs():
    assert [tick_text(v, 0.5) for v in (-1.0, -0.5, 0.0, 1.0)] == ["-1", "-0.5", "0", "1"]
    assert tick_text(-1e-17, 0.1) == "0" and tick_text(0.30000000000000004, 0.1) == "0.3"


def test_the_colour_bar_labels_what_fits_its_width(shown):
    bar = shown(ColorBar(theme.FILTER_COLORMAP, "weight"), 300, 60)
    bar.set_levels((-1.2, 1.2))
    assert [text for _, text in bar.shown_ticks()] == ["-1", "-0.5", "0", "0.5", "1"]
    bar.resize(120, 60)
    assert [text for _, text in bar.shown_ticks()] == ["-1", "0", "1"]
    image = bar.grab().toImage()
    middle = bar.bar_rect().center().toPoint()
    white = theme.colour_table(theme.FILTER_COLORMAP)[128]  # the map's middle: zero
    assert np.abs(np.subtract(image.pixelColor(middle).getRgb()[:3], white)).max() <= 3


def test_the_canvas_draws_square_pixels_with_gaps_showing_what_is_behind(shown, qtbot):
    canvas = shown(ImageCanvas(), 300, 200)
    values = np.array([[0.0, np.nan], [1.0, 0.5]], dtype=np.float32)
    canvas.show_image(values, (0.0, 1.0), theme.MAP_COLORMAP)
    drawn = canvas.image_rect()
    assert drawn.width() == drawn.height() == 200  # fitted, square pixels, centred
    assert drawn.left() == 50
    image = canvas.grab().toImage()
    table = theme.colour_table(theme.MAP_COLORMAP)
    assert image.pixelColor(100, 50).getRgb()[:3] == tuple(table[0])
    assert image.pixelColor(100, 150).getRgb()[:3] == tuple(table[255])
    assert image.pixelColor(200, 50) == canvas.palette().window().color()  # the gap: what is behind
    moved = []
    canvas.hovered.connect(moved.append)
    qtbot.mouseMove(canvas, canvas.map_from_image(QPointF(1.5, 0.25)).toPoint())
    assert (moved[-1].x(), moved[-1].y()) == pytest.approx((1.5, 0.25), abs=0.01)
    clicked = []
    canvas.clicked.connect(clicked.append)
    at = canvas.map_from_image(QPointF(0.5, 1.5)).toPoint()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=at)
    assert len(clicked) == 1 and int(clicked[0].x()) == 0 and int(clicked[0].y()) == 1
