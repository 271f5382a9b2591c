"""Pooling condenses each feature map: the max or the mean of each size×size window, stepping by
`stride`. Windows that do not fit are dropped (floor), as Theano's ignore_border=True does.

Both directions combine strided slices, one per window offset, which is far faster than
reductions over small reshaped axes and needs no scatter."""

from __future__ import annotations

from engine.layers.base import Layer


class Pool(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        self.mode = info.layer["mode"]
        self.size = info.layer["size"]
        self.stride = info.layer["stride"]

    def forward(self, x, params, train, rng):
        xp = self.xp
        windows = self._window_slices()
        out = x[windows[0]].copy()
        combine = xp.maximum if self.mode == "max" else xp.add
        for sl in windows[1:]:
            combine(out, x[sl], out=out)
        if self.mode == "mean":
            out *= 1.0 / (self.size * self.size)
        return out, (x, out)

    def _window_slices(self) -> list[tuple[slice, ...]]:
        _, out_h, out_w = self.output_shape
        s = self.stride
        return [
            (
                slice(None),
                slice(None),
                slice(i, i + s * (out_h - 1) + 1, s),
                slice(j, j + s * (out_w - 1) + 1, s),
            )
            for i in range(self.size)
            for j in range(self.size)
        ]

    def backward(self, grad, cache, params, need_dx):
        xp = self.xp
        x, out = cache
        dx = xp.zeros(x.shape, dtype=grad.dtype)
        if self.mode == "mean":
            g = grad * (1.0 / (self.size * self.size))
            for sl in self._window_slices():
                dx[sl] += g
            return dx, {}
        # Each window's gradient goes to its first maximum only, as an argmax would send it.
        unclaimed = xp.ones(out.shape, dtype=bool)
        for sl in self._window_slices():
            hit = (x[sl] == out) & unclaimed
            dx[sl] += xp.where(hit, grad, 0)
            unclaimed &= ~hit
        return dx, {}
