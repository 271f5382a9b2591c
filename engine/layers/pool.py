"""Pooling condenses each feature map: the max or the mean of each size×size window, stepping by
`stride`. Windows that do not fit are dropped (floor), as Theano's ignore_border=True does.

Forward combines strided slices, one per window offset, which is far faster than reductions
over small reshaped axes. Outputs and gradients keep the memory layout of the input, so NHWC
maps from a conv stay NHWC end to end."""

from __future__ import annotations

from typing import Any

from engine.layers.base import Layer


class Pool(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        self.mode = info.layer["mode"]
        self.size = info.layer["size"]
        self.stride = info.layer["stride"]
        #: Set by the network when this max pool follows a ReLU conv: the ReLU's gradient mask is
        #: then applied here, on the pooled gradient, instead of on the conv's four times larger
        #: output. Exact: max(relu(z)) = relu(max(z)), and the gradient reaches the same pixel.
        self.masks_relu = False

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

    def _blocks(self, a: Any) -> Any:
        """`a` (N, C, H, W) as (N, C, out_h, size, out_w, size) windows, without a copy; only
        for non-overlapping windows (stride = size)."""
        n, c = a.shape[:2]
        _, out_h, out_w = self.output_shape
        k = self.size
        sn, sc, sh, sw = a.strides
        return self.backend.as_strided(a, (n, c, out_h, k, out_w, k), (sn, sc, k * sh, sh, k * sw, sw))

    def forward(self, x, params, train, rng):
        xp = self.xp
        windows = self._window_slices()
        out = self._buffer("out", x[windows[0]].shape, x.dtype, like=x[windows[0]])
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
        x, out = cache
        if self.masks_relu:
            masked = self._buffer("masked", grad.shape, grad.dtype, like=grad)
            grad = self.xp.multiply(grad, out > 0, out=masked)
        dx = self._buffer("dx", x.shape, grad.dtype, like=x)
        _, out_h, out_w = self.output_shape
        if self.stride != self.size or x.shape[2:] != (out_h * self.size, out_w * self.size):
            dx.fill(0)  # pixels in no window, or in several, start from zero
        if self.stride == self.size:
            self._blocked_backward(grad, x, out, dx)
        else:
            self._overlapping_backward(grad, x, out, dx)
        return dx, {}

    def _blocked_backward(self, grad, x, out, dx):
        """Non-overlapping windows: one broadcast op writes every window's gradient at once."""
        xp = self.xp
        g = grad[:, :, :, None, :, None]
        if self.mode == "mean":
            xp.multiply(g, 1.0 / (self.size * self.size), out=self._blocks(dx))
            return
        hit = self._buffer("hit", x.shape, bool, like=x)
        hits = self._blocks(hit)
        xp.equal(self._blocks(x), out[:, :, :, None, :, None], out=hits)
        # Each window's gradient goes to its first maximum only, as an argmax would send it.
        seen = None
        for i in range(self.size):
            for j in range(self.size):
                h = hits[:, :, :, i, :, j]
                if seen is None:
                    seen = h.copy()
                    continue
                xp.greater(h, seen, out=h)  # h and not seen
                if (i, j) != (self.size - 1, self.size - 1):
                    seen |= h
        xp.multiply(g, hits, out=self._blocks(dx))

    def _overlapping_backward(self, grad, x, out, dx):
        xp = self.xp
        windows = self._window_slices()
        if self.mode == "mean":
            g = grad * (1.0 / (self.size * self.size))
            for sl in windows:
                dx[sl] += g
            return
        unclaimed = xp.ones(out.shape, dtype=bool)
        for sl in windows:
            hit = (x[sl] == out) & unclaimed
            dx[sl] += grad * hit
            unclaimed &= ~hit
