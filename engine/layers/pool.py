"""Pooling condenses each feature map: the max or the mean of each size×size window, stepping by
`stride`. Windows that do not fit are dropped (floor), as Theano's ignore_border=True does.

Both directions combine strided slices, one per window offset, which is far faster than
reductions over small reshaped axes and needs no scatter. Outputs and gradients keep the memory
layout of the input (`*_like` allocation), so NHWC maps from a conv stay NHWC end to end."""

from __future__ import annotations

from engine.layers.base import Layer


class Pool(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        self.mode = info.layer["mode"]
        self.size = info.layer["size"]
        self.stride = info.layer["stride"]

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

    def _tiles(self, shape) -> bool:
        """Whether the windows cover every input pixel exactly once."""
        _, h, w = self.output_shape
        return self.stride == self.size and shape[2] == h * self.size and shape[3] == w * self.size

    def forward(self, x, params, train, rng):
        xp = self.xp
        windows = self._window_slices()
        out = xp.empty_like(x[windows[0]])
        if len(windows) == 1:
            out[...] = x[windows[0]]
            return out, (x, out)
        combine = xp.maximum if self.mode == "max" else xp.add
        combine(x[windows[0]], x[windows[1]], out=out)
        for sl in windows[2:]:
            combine(out, x[sl], out=out)
        if self.mode == "mean":
            out *= 1.0 / (self.size * self.size)
        return out, (x, out)

    def backward(self, grad, cache, params, need_dx):
        xp = self.xp
        x, out = cache
        windows = self._window_slices()
        # Non-overlapping windows that tile the input write each pixel once: no zeroing, no add.
        tiles = self._tiles(x.shape)
        dx = xp.empty_like(x, dtype=grad.dtype) if tiles else xp.zeros_like(x, dtype=grad.dtype)
        if self.mode == "mean":
            g = grad * (1.0 / (self.size * self.size))
            for sl in windows:
                if tiles:
                    dx[sl] = g
                else:
                    dx[sl] += g
            return dx, {}
        # Each window's gradient goes to its first maximum only, as an argmax would send it.
        unclaimed = None
        for k, sl in enumerate(windows):
            hit = x[sl] == out
            if unclaimed is not None:
                hit &= unclaimed
            if tiles:
                xp.multiply(grad, hit, out=dx[sl])
            else:
                dx[sl] += grad * hit
            if k == len(windows) - 1:
                break
            if unclaimed is None:
                unclaimed = ~hit
            else:
                unclaimed ^= hit
        return dx, {}
