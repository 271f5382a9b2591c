"""Convolution: a kernel slides over the input computing w·x + b at each step, and the outputs
form the layer's feature maps. Cross-correlation (no kernel flip), as in every framework.

Feature maps are kept in NHWC memory and handed on as (N, C, H, W)-shaped views of it: the
GEMM writes NHWC directly, each window row of an NHWC input is one contiguous run of kw·C
values (so im2col copies long runs, not kw-wide scraps), and the gradient arriving from a
pooling layer that kept the layout needs no transpose. Forward is im2col (one strided view of
the padded input, copied once) and one GEMM; backward is one GEMM for the filters and, for the
input, one batched GEMM followed by col2im as a loop over kernel offsets adding strided slices.
On the host, a convolution that `engine.winograd.plan` takes goes through Winograd's tiles
instead: the same results from a sixth of the multiplications for a 5×5 kernel."""

from __future__ import annotations

from typing import Any

from engine import activations, winograd
from engine.backend import NUMPY
from engine.layers.base import Layer
from engine.parallel import INLINE
from engine.spec import conv_padding

#: The most bytes of dz·W that col2im computes at once on the host: about a core's L2 cache.
COL2IM_BYTES = 1 << 21


class Conv(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        layer = info.layer
        self.filters = layer["filters"]
        self.kernel = tuple(layer["kernel"])
        self.stride = layer["stride"]
        self.padding = conv_padding(layer)
        self.activation = layer["activation"]
        #: Set by the network when a max pool that applies this layer's ReLU follows it: the
        #: layer then hands on its pre-activation (see :class:`engine.layers.pool.Pool`).
        self.relu_in_pool = False

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        c = self.input_shape[0]
        return {"weight": (self.filters, c, *self.kernel), "bias": (self.filters,)}

    def _pad(self, x: Any) -> Any:
        top, bottom, left, right = self.padding
        if not any(self.padding):
            return x
        return self.xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))

    def _im2col(self, x: Any) -> Any:
        """(N·out_h·out_w, kh·kw·C + 1) rows, one per window of the padded NHWC input, each
        ending in a 1 so the bias rides in the GEMM: that saves a pass adding it over the
        output, and the bias gradient comes out of the weight-gradient GEMM instead of a
        column sum (which NumPy does slowly, along the strided axis).

        When a window row's contiguous runs would be short (kw·C < 8, as for a one-channel
        input), the matrix is built column by column instead, as the transpose of a
        (kh·kw·C + 1, N·out_h·out_w) buffer: each kernel offset is then one long strided copy,
        three times faster, and the GEMMs take the transposed operand as it is."""
        n, _, _, c = x.shape
        kh, kw = self.kernel
        s = self.stride
        _, out_h, out_w = self.output_shape
        k = kh * kw * c
        sn, sh, sw, sc = x.strides
        if kw * c < 8:
            cols_t = self._forward_array("cols", (k + 1, n * out_h * out_w), x.dtype)
            windows = self.backend.as_strided(
                x, (kh, kw, c, n, out_h, out_w), (sh, sw, sc, sn, s * sh, s * sw)
            )
            self.xp.copyto(cols_t[:k].reshape(windows.shape), windows)
            cols_t[k] = 1
            return cols_t.T
        cols = self._forward_array("cols", (n * out_h * out_w, k + 1), x.dtype)
        windows = self.backend.as_strided(x, (n, out_h, out_w, kh, kw, c), (sn, s * sh, s * sw, sh, sw, sc))
        row, item = cols.strides
        into = self.backend.as_strided(
            cols, windows.shape, (out_h * out_w * row, out_w * row, row, kw * c * item, c * item, item)
        )
        self.xp.copyto(into, windows)
        cols[:, k] = 1
        return cols

    def _col2im(self, dz: Any, weight: Any, shape: tuple[int, ...]) -> Any:
        """dL/d(padded NHWC input): the adjoint of `_im2col` applied to dz·W.

        dz·W is computed per kernel offset, as (kh·kw, N·out_h·out_w, C) from one batched GEMM,
        so each offset's slab adds onto the input as long contiguous (out_w·C) runs instead of
        C-long scraps of an (…, kh, kw, C) row. On the host it goes a few images at a time
        (COL2IM_BYTES of dz·W each), so the slabs are added while still in the cache and a
        large batch's backward pass does not hold all of dz·W at once."""
        n, _, _, c = shape
        kh, kw = self.kernel
        s = self.stride
        _, out_h, out_w = self.output_shape
        rows = out_h * out_w
        per_offset = weight.transpose(2, 3, 0, 1).reshape(kh * kw, self.filters, c)
        dx = self._backward_array("dx", shape, dz.dtype)
        fused = self.backend.fused
        step = n if fused is not None else max(1, COL2IM_BYTES // (kh * kw * rows * c * dz.itemsize))
        step = min(step, n)
        dcols = self._backward_array("dcols", (kh * kw, step * rows, c), dz.dtype)
        if fused is not None:  # one gathering kernel for the kh·kw slabs below
            self._matmul(dz, per_offset, out=dcols)
            return fused.col2im(dcols, dx, self.kernel, s, (out_h, out_w))
        dx.fill(0)
        for first in range(0, n, step):
            m = min(step, n - first)
            part = dcols[:, : m * rows]  # the last, shorter chunk: the same buffer's first rows
            self._matmul(dz[first * rows : (first + m) * rows], per_offset, out=part)
            images = dx[first : first + m]
            for i in range(kh):
                for j in range(kw):
                    slab = part[i * kw + j].reshape(m, out_h, out_w, c)
                    images[:, i : i + s * out_h : s, j : j + s * out_w : s, :] += slab
        return dx

    def _weight_gradient(self, dz: Any, cols: Any) -> Any:
        """dzᵀ·cols, (F, kh·kw·C + 1). When im2col built the columns column-wise (cols is the
        transpose of a C-ordered buffer), the host computes it as (colsᵀ·dz)ᵀ, from two C-ordered
        operands: OpenBLAS runs that long, thin product faster than with both transposed."""
        if self.backend.on_host and cols.T.flags.c_contiguous:
            return self._matmul(cols.T, dz).T
        return self._matmul(dz.T, cols)

    def _winograd(self, images: int, dtype: Any) -> winograd.Transforms | None:
        """Winograd's transforms where this layer uses them: on the plain NumPy path only (the
        module is NumPy code; the path of CuPy and its fused kernels is measured as it is), and
        where `winograd.plan` takes the convolution."""
        if self.backend.name != NUMPY.name or self.backend.fused is not None:
            return None
        c = self.input_shape[0]
        return winograd.plan(self.kernel, self.stride, self.output_shape[1:], c, images, dtype)

    def _weight_matrix(self, weight: Any) -> Any:
        """The (F, C, kh, kw) weights as (F, kh·kw·C), matching the NHWC window rows."""
        return weight.transpose(0, 2, 3, 1).reshape(self.filters, -1)

    def forward(self, x, params, train, rng):
        xp = self.xp
        n = x.shape[0]
        _, out_h, out_w = self.output_shape
        x = self._pad(x.transpose(0, 2, 3, 1))
        tiles = self._winograd(n, x.dtype)
        if tiles is not None:
            x = xp.ascontiguousarray(x)
            z, cols = winograd.forward(
                tiles, x, params["weight"], params["bias"], self._forward_array, self.backend.compiled
            )
        else:
            cols = self._im2col(x)
            w = xp.concatenate([self._weight_matrix(params["weight"]), params["bias"][:, None]], axis=1)
            z = self._forward_array("z", (cols.shape[0], self.filters), xp.result_type(cols.dtype, w.dtype))
            self._matmul(cols, w.T, out=z)
        a = z if self.relu_in_pool else activations.forward(xp, self.activation, z)
        out = a.reshape(n, out_h, out_w, self.filters).transpose(0, 3, 1, 2)
        return out, (x.shape, tiles, cols, a)

    def shown(self, out):
        """With the ReLU that a pool after this layer applies for it."""
        maps = out.copy()
        return activations.forward(self.xp, self.activation, maps) if self.relu_in_pool else maps

    def backward(self, grad, cache, params, need_dx, beside=INLINE):
        xp = self.xp
        padded_shape, tiles, cols, a = cache
        dz = grad.transpose(0, 2, 3, 1).reshape(a.shape)
        if self.activation != "linear" and not self.relu_in_pool:
            out = self._backward_array("dz", a.shape, dz.dtype)
            dz = activations.backward(xp, self.activation, a, dz, out=out)
        if tiles is not None:
            dz = xp.ascontiguousarray(dz)
            array, beside = self._backward_array, beside if need_dx else INLINE
            dx, dw, db = winograd.backward(
                tiles, dz, cols, padded_shape, need_dx, array, beside, self.backend.compiled
            )
            grads = {"weight": dw, "bias": db}
        else:
            dx, grads = self._gemm_backward(dz, cols, params["weight"], padded_shape, need_dx, beside)
        if dx is None:
            return None, grads
        _, h, w = self.input_shape
        top, _, left, _ = self.padding
        return dx[:, top : top + h, left : left + w, :].transpose(0, 3, 1, 2), grads

    def _gemm_backward(self, dz, cols, weight, padded_shape, need_dx, beside):
        """im2col's backward: dL/d(padded input) or None, and the parameters' gradients."""
        xp = self.xp
        # The weight gradient is off the path back to the input, so it can run beside it.
        weight_grad = (beside if need_dx else INLINE).start(self._weight_gradient, dz, cols)
        try:
            dx = self._col2im(dz, weight, padded_shape) if need_dx else None
        finally:
            dwb = weight_grad()  # even after an error: nothing may still read dz when it returns
        _, c, kh, kw = weight.shape
        dw = dwb[:, :-1].reshape(self.filters, kh, kw, c).transpose(0, 3, 1, 2)
        return dx, {"weight": xp.ascontiguousarray(dw), "bias": xp.ascontiguousarray(dwb[:, -1])}
