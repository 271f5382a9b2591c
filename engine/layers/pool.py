"""Pooling condenses each feature map: the max or the mean of each window of `size` (height,
width), stepping by `stride` (down, across). Windows that do not fit are dropped (floor), as
Theano's ignore_border=True does.

NumPy's forward combines strided slices, far faster than reductions over small reshaped axes,
and separably: a window's rows first, each slice then a run of whole rows (W·C contiguous values
of an NHWC map), then its columns over the fewer rows that leaves. A max pool after a ReLU conv
applies that ReLU itself, to the pooled maps: max(relu(z)) = relu(max(z)), so the conv's output
is read once, by the pool, and the ReLU touches a quarter as many values. Outputs and gradients
keep the memory layout of the input, so NHWC maps from a conv stay NHWC end to end.

On the host, where the backend takes compiled kernels (:mod:`engine.jit`), a kernel reads each
input pixel's channels once per window it falls in, and a max pool records which offset of its
window won each output (the first maximum), so the backward pass writes the whole input gradient
in one pass without reading the input again. The NumPy code stays for every other backend, for
a pass of one image, and for the backward of network3's rules (`all_maxima`, `bias_activation`:
the `engine.network3` API), which needs every maximum of a window, not the first."""

from __future__ import annotations

import numpy as np

from engine import activations, jit
from engine.layers.base import Layer
from engine.parallel import INLINE

#: The key under which a pool with `bias_activation` reports the conv bias's surplus gradient.
BIAS_SURPLUS = "conv_bias_surplus"
#: The most input a forward pass on the host pools at once: its rows-pooled maps, half of it
#: for 2×2 windows, then fit in the cache and add little to the peak memory.
POOL_BLOCK_BYTES = 1 << 20
#: The fewest images in a pass that takes the compiled kernels. One image (the live views' pass,
#: on the window's thread) gains nothing measurable from them, and its first pass would load
#: Numba there just after the window shows (tests/benchmarks/README.md).
MIN_IMAGES = 2


def _combine(combine, views, out):
    """Write the views combined into `out` (a single view copied: the pool's output must not
    alias its input)."""
    if len(views) == 1:
        out[...] = views[0]
        return
    combine(views[0], views[1], out=out)
    for view in views[2:]:
        combine(out, view, out=out)


# The kernels below take NHWC arrays ((N, H, W, C) views, whose shapes the layer has checked:
# compiled code does no bounds checks) and loop over a pixel's channels innermost, where the
# compiler vectorises. A window's rows and columns come as tuples (`down`, `across`: 0 … ph − 1
# and 0 … pw − 1), so their counts are constants of each compiled version and the loops over
# the window (`range(len(down))`) unroll inside the channels' loop: one pass per output pixel,
# not one per offset in the window.


@jit.kernel
def _pool_forward(x, out, winners, down, across, sh, sw, relu, scale):
    """Each window's maximum into `out`, and into `winners` the offset (row-major in the window)
    of its first maximum, or ph·pw where the ReLU (`relu`) passes nothing or the maximum is NaN
    (NaN wins, as NumPy's maximum has it, and takes no gradient, as in the NumPy code). Or with
    `winners` None, each window's mean, summed in the NumPy code's order (each column of the
    window down its rows, then the columns across): the same bits."""
    n_images, out_h, out_w, channels = out.shape
    pw = len(across)
    nowhere = len(down) * pw
    for n in range(n_images):
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * sh, j * sw
                for c in range(channels):
                    best = x[n, top, left, c]
                    if winners is None:
                        for dj in range(pw):
                            column = x[n, top, left + dj, c]
                            for di in range(1, len(down)):
                                column += x[n, top + di, left + dj, c]
                            best = column if dj == 0 else best + column
                        out[n, i, j, c] = best * scale
                        continue
                    won = 0
                    for di in range(len(down)):
                        for dj in range(pw):
                            value = x[n, top + di, left + dj, c]
                            take = (value > best) | (value != value)
                            best = value if take else best
                            won = di * pw + dj if take else won
                    if best != best:  # NaN: NumPy's equal(x, max) finds no pixel to take the gradient
                        won = nowhere
                    if relu:
                        won = won if best > 0 else nowhere
                        best = 0 if best < 0 else best
                    out[n, i, j, c] = best
                    winners[n, i, j, c] = won


@jit.kernel
def _pool_backward(grad, winners, dx, down, across, sh, sw, scale, overlapping):
    """dx from each window's gradient: a max pool's (`winners` given) to its winner, a mean
    pool's (`winners` None) times `scale` to every pixel. Windows that tile or leave gaps write
    their pixels once (the caller zeroes the gaps); overlapping ones add into a zeroed dx, the
    last window first, so each pixel takes its windows' shares in the NumPy code's order (by
    offset in the window) and the sums keep its bits."""
    n_images, out_h, out_w, channels = grad.shape
    pw = len(across)
    zero = scale - scale
    for n in range(n_images):
        for row in range(out_h):
            i = out_h - 1 - row if overlapping else row
            for col in range(out_w):
                j = out_w - 1 - col if overlapping else col
                top, left = i * sh, j * sw
                for c in range(channels):
                    g = grad[n, i, j, c]
                    for di in range(len(down)):
                        for dj in range(pw):
                            if winners is None:
                                share = g * scale
                            else:
                                share = g if winners[n, i, j, c] == di * pw + dj else zero
                            if overlapping:
                                dx[n, top + di, left + dj, c] += share
                            else:
                                dx[n, top + di, left + dj, c] = share


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
        (ph, pw), (sh, sw) = self.size, self.stride
        #: The kernels' window arguments: its rows and columns as tuples, then the stride.
        self._window = (tuple(range(ph)), tuple(range(pw)), sh, sw)

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
        if self._compiled(x):
            return out, (x, out, self._compiled_forward(x, out))
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
        return out, (x, out, None)

    def _compiled(self, x) -> bool:
        """Whether a pass over `x` takes the kernels (its size first: asking the backend loads
        Numba)."""
        return x.shape[0] >= MIN_IMAGES and self.backend.compiled

    def _compiled_forward(self, x, out):
        """`out` from the kernels; a max pool's winners (see `_pool_forward`), None for a mean
        pool."""
        if x.shape[1:] != tuple(self.input_shape):
            raise ValueError(f"pool input of shape {x.shape[1:]}, expected {tuple(self.input_shape)}")
        ph, pw = self.size
        nhwc, out_nhwc, window = x.transpose(0, 2, 3, 1), out.transpose(0, 2, 3, 1), self._window
        if self.mode == "mean":
            _pool_forward(nhwc, out_nhwc, None, *window, False, x.dtype.type(1.0 / (ph * pw)))
            return None
        # The offsets 0 … ph·pw − 1, and ph·pw for none, in the fewest bytes.
        winners = self._forward_array("winners", out.shape, np.min_scalar_type(ph * pw), like=out)
        won = winners.transpose(0, 2, 3, 1)
        _pool_forward(nhwc, out_nhwc, won, *window, self.masks_relu, x.dtype.type(1))
        return winners

    def backward(self, grad, cache, params, need_dx, beside=INLINE):
        """With the kernels, one pass over the outputs that writes their windows' pixels (see
        `_pool_backward`); in NumPy, per window offset, one strided slice of dx: windows that
        overlap (stride < size) add into it, others write it once. Pixels in no window stay
        zero."""
        x, out, winners = cache
        xp = self.xp
        (ph, pw), (sh, sw) = self.size, self.stride
        overlapping = sh < ph or sw < pw
        _, out_h, out_w = self.output_shape
        dx = self._backward_array("dx", x.shape, grad.dtype, like=x)
        if self.stride != self.size or x.shape[2:] != (out_h * ph, out_w * pw):
            dx.fill(0)
        fused = self.backend.fused
        if fused is not None and self.mode == "max" and self.stride == self.size and not self.all_maxima:
            return fused.max_pool_backward(x, out, grad, dx, self.size, self.masks_relu), {}
        if self._compiled(x) and (self.mode == "mean" or winners is not None and not self.all_maxima):
            if grad.shape != out.shape:
                raise ValueError(f"pool gradient of shape {grad.shape}, expected {out.shape}")
            scale = grad.dtype.type(1.0 / (ph * pw) if self.mode == "mean" else 1)
            won = None if winners is None else winners.transpose(0, 2, 3, 1)
            _pool_backward(grad.transpose(0, 2, 3, 1), won, dx.transpose(0, 2, 3, 1), *self._window, scale,
                           overlapping)
            return dx, {}
        windows = self._window_slices()
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
