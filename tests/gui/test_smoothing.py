"""The loss curve's smoothing, plain arithmetic beside the plot that draws it."""

import pytest

from gui.smoothing import LossSmoother


def test_loss_smoother_is_debiased_and_rewinds():
    smoother = LossSmoother(0.9)
    assert smoother.extend([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0
    first = smoother.extend([1.0, 0.5])
    again = LossSmoother(0.9)
    again.extend([2.0, 2.0, 2.0, 1.0])
    again.rewind(3, 2.0)
    assert again.extend([1.0, 0.5]) == pytest.approx(first)
