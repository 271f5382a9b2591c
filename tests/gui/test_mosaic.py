"""Mosaics: many small images tiled into one, as the filter and feature-map views draw them."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gui.mosaic import (
    FILTER_GAP,
    NICE_STEPS,
    filter_cell,
    filter_mosaic,
    grid_columns,
    map_mosaic,
    nice_limit,
)


def test_rgb_filters_become_one_colour_tile_each():
    weight = np.random.default_rng(0).normal(size=(6, 3, 5, 4)).astype(np.float32)
    mosaic, channels = filter_mosaic(weight, rgb=True)
    assert channels == 1 and mosaic.image.shape[2] == 3 and mosaic.count == 6
    np.testing.assert_array_equal(mosaic.tile(4), weight[4].transpose(1, 2, 0))


def test_multi_channel_filters_get_a_cell_each_and_hover_finds_the_tile():
    weight = np.arange(5 * 2 * 3 * 3, dtype=np.float32).reshape(5, 2, 3, 3)
    mosaic, channels = filter_mosaic(weight, rgb=False, cols=2)
    assert channels == 2 and mosaic.parts == 2 and mosaic.cell_width == 7
    assert mosaic.image.shape == (3 * 3 + 2 * FILTER_GAP, 2 * 7 + FILTER_GAP)
    cell = 7 + FILTER_GAP
    index = mosaic.tile_at(x=cell + 4 + 1, y=(3 + FILTER_GAP) + 1)  # filter 3 (row 1, column 1), channel 1
    assert index == 7 and divmod(index, channels) == (3, 1)
    np.testing.assert_array_equal(mosaic.tile(index), weight[3, 1])
    np.testing.assert_array_equal(mosaic.tile(8), weight[4, 0])
    assert mosaic.tile_at(3, 0) is None  # between two channels
    assert mosaic.tile_at(7, 0) is None  # between two filters
    assert mosaic.tile_at(cell + 1, 2 * (3 + FILTER_GAP) + 1) is None  # past the last filter


@given(
    st.integers(1, 60),
    st.integers(1, 9),
    st.integers(1, 6),
    st.integers(1, 6),
    st.floats(50, 2000),
    st.floats(50, 2000),
)
def test_the_columns_chosen_for_a_view_make_the_tiles_largest(filters, channels, kh, kw, width, height):
    cells, cell_height, cell_width = filter_cell((filters, channels, kh, kw), rgb=False)
    cols = grid_columns(cells, width, height, (cell_height, cell_width))

    def scale(c):
        return min(width / (c * cell_width), height / (math.ceil(cells / c) * cell_height))

    assert all(scale(cols) >= scale(c) for c in range(1, cells + 1))
    weight = np.zeros((filters, channels, kh, kw), dtype=np.float32)
    mosaic, _ = filter_mosaic(weight, rgb=False, cols=cols)
    assert mosaic.cols == cols and mosaic.count == filters * channels


def test_dense_activations_form_a_gapless_block():
    mosaic = map_mosaic(np.arange(10, dtype=np.float32))
    assert mosaic.image.shape == (3, 4) and np.isnan(mosaic.image[2, 2:]).all()


@given(st.floats(min_value=1e-6, max_value=1e6))
def test_colour_limits_round_up_to_a_nearby_round_number(value):
    limit = nice_limit(value)
    # Within rounding of `value` (0.3 stays 0.3), and at most the widest step (1.5 to 2, 3 to 4) above.
    assert value * (1 - 1e-9) <= limit <= 4 / 3 * value * (1 + 1e-9)
    mantissa = limit / 10 ** math.floor(math.log10(limit) + 1e-9)
    assert any(math.isclose(mantissa, step) for step in NICE_STEPS)


def test_colour_limits_of_nothing_are_one():
    assert nice_limit(0.0) == nice_limit(float("nan")) == 1.0
