"""Convolution: a kernel slides over the input computing w·x + b at each step, and the outputs
form the layer's feature maps. Cross-correlation (no kernel flip), as in every framework.

Forward is im2col (one strided view of the padded input, copied once) and one GEMM; backward is
one GEMM for the filters and, for the input, one GEMM followed by col2im as a loop over kernel
offsets that adds strided slices (no scatter)."""

from __future__ import annotations

from typing import Any

from engine import activations
from engine.layers.base import Layer
from engine.spec import conv_padding


class Conv(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        layer = info.layer
        self.filters = layer["filters"]
        self.kernel = tuple(layer["kernel"])
        self.stride = layer["stride"]
        self.padding = conv_padding(layer)
        self.activation = layer["activation"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        c = self.input_shape[0]
        return {"weight": (self.filters, c, *self.kernel), "bias": (self.filters,)}

    def _pad(self, x: Any) -> Any:
        top, bottom, left, right = self.padding
        if not any(self.padding):
            return x
        return self.xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))

    def _windows(self, xp_: Any) -> Any:
        """The padded input seen as (N, out_h, out_w, C, kh, kw) windows, without a copy."""
        n, c, hp, wp = xp_.shape
        kh, kw = self.kernel
        s = self.stride
        _, out_h, out_w = self.output_shape
        sn, sc, sh, sw = xp_.strides
        return self.backend.as_strided(xp_, (n, out_h, out_w, c, kh, kw), (sn, s * sh, s * sw, sc, sh, sw))

    def forward(self, x, params, train, rng):
        xp = self.xp
        n = x.shape[0]
        _, out_h, out_w = self.output_shape
        cols = self._windows(self._pad(x)).reshape(n * out_h * out_w, -1)
        w = params["weight"].reshape(self.filters, -1)
        z = cols @ w.T
        z += params["bias"]
        a = activations.forward(xp, self.activation, z)
        out = a.reshape(n, out_h, out_w, self.filters).transpose(0, 3, 1, 2)
        return out, (x.shape, cols, a)

    def backward(self, grad, cache, params, need_dx):
        xp = self.xp
        x_shape, cols, a = cache
        dz = grad.transpose(0, 2, 3, 1).reshape(-1, self.filters)
        dz = activations.backward(xp, self.activation, a, dz)
        grads = {
            "weight": (dz.T @ cols).reshape(params["weight"].shape),
            "bias": dz.sum(axis=0),
        }
        if not need_dx:
            return None, grads
        n, c, h, w = x_shape
        kh, kw = self.kernel
        s = self.stride
        _, out_h, out_w = self.output_shape
        top, bottom, left, right = self.padding
        dcols = (dz @ params["weight"].reshape(self.filters, -1)).reshape(n, out_h, out_w, c, kh, kw)
        dx = xp.zeros((n, c, h + top + bottom, w + left + right), dtype=grad.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + s * out_h : s, j : j + s * out_w : s] += dcols[:, :, :, :, i, j].transpose(
                    0, 3, 1, 2
                )
        return dx[:, :, top : top + h, left : left + w], grads
