"""Mosaics: many small images tiled into one, as the filter and feature-map views draw them."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gui.mosaic import NICE_STEPS, filter_mosaic, map_mosaic, nice_limit


def test_rgb_filters_become_one_colour_tile_each():
    weight = np.random.default_rng(0).normal(size=(6, 3, 5, 4)).astype(np.float32)
    mosaic, channels = filter_mosaic(weight, rgb=True)
    assert channels == 1 and mosaic.image.shape[2] == 3 and mosaic.count == 6
    np.testing.assert_array_equal(mosaic.tile(4), weight[4].transpose(1, 2, 0))


def test_multi_channel_filters_get_a_row_each_and_hover_finds_the_tile():
    weight = np.arange(4 * 2 * 3 * 3, dtype=np.float32).reshape(4, 2, 3, 3)
    mosaic, channels = filter_mosaic(weight, rgb=False)
    assert channels == 2 and mosaic.cols == 2
    index = mosaic.tile_at(x=4 + 1, y=2 * 4 + 1)  # second column, third row
    assert index == 5 and divmod(index, channels) == (2, 1)
    np.testing.assert_array_equal(mosaic.tile(index), weight[2, 1])
    assert mosaic.tile_at(3, 0) is None  # the gap between tiles


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
