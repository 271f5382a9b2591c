"""Pooling condenses each feature map: the max or the mean of each window of `size` (height,
width), stepping by `stride` (down, across). Windows that do not fit are dropped (floor), as
Theano's ignore_border=True does.

Forward combines strided slices, which is far faster than reductions over small reshaped axes,
and separably: a window's rows first, each slice then a run of whole rows (W·C contiguous values
of an NHWC map), then its columns over the fewer rows that leaves. A max pool after a ReLU conv
applies that ReLU itself, to the pooled maps: max(relu(z)) = relu(max(z)), so the conv's output
is read once, by the pool, and the ReLU touches a quarter as many values. Outputs and gradients
keep the memory layout of the input, so NHWC maps from a conv stay NHWC end to end."""

from __future__ import annotations

from engine import activations
from engine.layers.base import Layer
from engine.parallel import INLINE

#: The key under which a pool with `bias_activation` reports the conv bias's surplus gradient.
BIAS_SURPLUS = "conv_bias_surplus"
#: The most input a forward pass on the host pools at once: its rows-pooled maps, half of it
#: for 2×2 windows, then fit in the cache and add little to the peak memory.
POOL_BLOCK_BYTES = 1 << 20


def _combine(combine, views, out):
    """Write the views combined into `out` (a single view copied: the pool's output must not
    alias its input)."""
    if len(views) == 1:
        out[...] = views[0]
        return
    combine(views[0], views[1], out=out)
    for view in views[2:]:
        combine(out, view, out=out)


class Pool(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        self.mode = info.layer["mode"]
        self.size = tuple(info.layer["size"])
        self.stride = tuple(info.layer["stride"])
        #: Set by the network when this max pool follows a ReLU conv: the conv then hands on its
        #: pre-activation, and the ReLU and its gradient mask are applied here, on the pooled maps
        #: and their gradient, instead of on the conv's four times larger output. Exact:
        #: max(relu(z)) = relu(max(z)), and the gradient reaches the same pixel.
        self.masks_relu = False
        #: Set by `Network.send_ties_to_every_maximum` (network3's rule, Theano's gradient): a max
        #: window's gradient goes to every input equal to its maximum, not to the first only.
        self.all_maxima = False
        #: With `all_maxima`, the activation of the conv just before, whose bias network3 adds
        #: after pooling: its bias gradient counts each window once, however many maxima it has.
        self.bias_activation: str | None = None

    def _window_slices(self) -> list[tuple[slice, ...]]:
        _, out_h, out_w = self.output_shape
        sh, sw = self.stride
        return [
            (
                slice(None),
                slice(None),
                slice(i, i + sh * (out_h - 1) + 1, sh),
                slice(j, j + sw * (out_w - 1) + 1, sw),
            )
            for i in range(self.size[0])
            for j in range(self.size[1])
        ]

    def forward(self, x, params, train, rng):
        xp = self.xp
        (ph, pw), (sh, sw) = self.size, self.stride
        _, out_h, out_w = self.output_shape
        combine = xp.maximum if self.mode == "max" else xp.add
        kept = x[:, :, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw]
        out = self._forward_array("out", kept.shape, x.dtype, like=kept)
        # On the host a few images at a time, so the rows-pooled maps between the two steps stay
        # small; a GPU takes the batch at once (each block would cost it kernel launches).
        image_bytes = max(1, x.size // max(1, x.shape[0]) * x.itemsize)
        step = max(1, POOL_BLOCK_BYTES // image_bytes if self.backend.on_host else x.shape[0])
        for start in range(0, x.shape[0], step):
            part = x[start : start + step]
            rows = [part[:, :, i : i + sh * (out_h - 1) + 1 : sh, :] for i in range(ph)]
            pooled_rows = rows[0]
            if ph > 1:
                pooled_rows = self._forward_array("rows", rows[0].shape, x.dtype, like=rows[0])
                _combine(combine, rows, pooled_rows)
            cols = [pooled_rows[..., j : j + sw * (out_w - 1) + 1 : sw] for j in range(pw)]
            _combine(combine, cols, out[start : start + step])
        if self.mode == "mean":
            out *= 1.0 / (ph * pw)
        if self.masks_relu:
            xp.maximum(out, 0, out=out)
        return out, (x, out)

    def backward(self, grad, cache, params, need_dx, beside=INLINE):
        """Per window offset, one strided slice of dx: windows that overlap (stride < size) add
        into it, others write it once, and pixels in no window stay zero."""
        x, out = cache
        xp = self.xp
        windows = self._window_slices()
        (ph, pw), (sh, sw) = self.size, self.stride
        overlapping = sh < ph or sw < pw
        _, out_h, out_w = self.output_shape
        dx = self._backward_array("dx", x.shape, grad.dtype, like=x)
        if self.stride != self.size or x.shape[2:] != (out_h * ph, out_w * pw):
            dx.fill(0)
        if self.mode == "mean":
            share = xp.multiply(
                grad,
                1.0 / len(windows),
                out=self._backward_array("share", grad.shape, grad.dtype, like=grad),
            )
            for sl in windows:
                if overlapping:
                    dx[sl] += share
                else:
                    dx[sl] = share
            return dx, {}
        fused = self.backend.fused
        if fused is not None and self.stride == self.size and not self.all_maxima:
            return fused.max_pool_backward(x, out, grad, dx, self.size, self.masks_relu), {}
        # Each window's gradient goes to its first maximum only, as an argmax would send it (or to
        # every maximum, `all_maxima`). `left` holds the gradient of the windows not served yet:
        # none from the start where this pool applies the ReLU and the window's maximum is 0 (the
        # ReLU passes none there), and none once a first maximum has taken it (left - left = 0).
        # Three passes per window offset where flags of served windows took four.
        hit = self._backward_array("hit", out.shape, bool, like=out)
        left = self._backward_array("left", out.shape, grad.dtype, like=out)
        if self.masks_relu:
            xp.multiply(grad, xp.greater(out, 0, out=hit), out=left)
        else:
            left[...] = grad
        if self.bias_activation is not None:
            maxima = self._backward_array("maxima", out.shape, grad.dtype, like=out)
            maxima.fill(0)
        share = self._backward_array("share", out.shape, grad.dtype, like=out) if overlapping else None
        for k, sl in enumerate(windows):
            xp.equal(x[sl], out, out=hit)
            if self.bias_activation is not None:
                maxima += hit  # where the ReLU passes nothing, activations.backward zeroes it below
            taken = xp.multiply(left, hit, out=dx[sl] if share is None else share)
            if share is not None:
                dx[sl] += share
            if k < len(windows) - 1 and not self.all_maxima:
                left -= taken
        if self.bias_activation is None:
            return dx, {}
        # The conv's bias gradient sums its outputs' gradients: a window with m maxima adds its
        # share m times, network3 once. The surplus, per feature map, for the network to take off.
        maxima -= 1
        maxima *= grad
        surplus = activations.backward(xp, self.bias_activation, out, maxima)
        return dx, {BIAS_SURPLUS: surplus.sum(axis=(0, 2, 3))}
