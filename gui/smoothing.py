"""The smoothed loss curve's arithmetic, kept out of the window so the GUI only draws."""

from __future__ import annotations

from collections.abc import Iterable


class LossSmoother:
    """A debiased exponential moving average, as TensorBoard smooths its curves: the raw average
    starts at 0, and dividing by 1 - weight^n removes that pull from the first points."""

    def __init__(self, weight: float = 0.95):
        self.weight = weight
        self.count = 0
        self._ema = 0.0

    def extend(self, values: Iterable[float]) -> list[float]:
        """The smoothed value after each of `values`."""
        out = []
        for value in values:
            self.count += 1
            self._ema = self.weight * self._ema + (1 - self.weight) * value
            out.append(self._ema / (1 - self.weight**self.count))
        return out

    def rewind(self, count: int, last: float) -> None:
        """Go back to the state after `count` values, the last of which smoothed to `last`."""
        self.count = count
        self._ema = last * (1 - self.weight**count) if count else 0.0
