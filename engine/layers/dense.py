"""Fully connected layers: the flattened input (C, H, W order) times the weights, plus a bias.

Dropout, as in network3, drops each of the layer's *inputs* with probability `dropout` during
training (inverted, so inference needs no rescaling). The softmax output layer is a dense layer
whose backward takes dL/dlogits, which the log-likelihood cost gives in closed form.

A feature map kept in NHWC memory (as conv and pool layers leave it) is flattened in (H, W, C)
order, which is free, and the (C, H, W)-ordered weights are permuted to match instead: the
weights are a few hundred kilobytes, the maps of a batch many megabytes, and the gradient sent
back is then NHWC too, as the pooling layer below wants it. On the host, a pass of fewer images
than the layer has units takes the weight gradient from its input copied into (C, H, W) order
rather than permute the gradient: the same sums over the batch, on fewer values moved."""

from __future__ import annotations

from engine import activations
from engine.layers.base import Layer
from engine.parallel import INLINE


class Dense(Layer):
    def __init__(self, info, backend):
        super().__init__(info, backend)
        self.units = info.output_shape[0]
        self.activation = info.layer.get("activation", "linear")
        self.dropout = info.layer.get("dropout", 0.0)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        n_in = 1
        for d in self.input_shape:
            n_in *= d
        return {"weight": (self.units, n_in), "bias": (self.units,)}

    def _activate(self, z):
        return activations.forward(self.xp, self.activation, z)

    def _add_bias_and_activate(self, z, bias):
        """z + bias, activated, in place where the activation allows: one fused kernel where the
        backend has one for it."""
        fused = self.backend.fused
        if fused is not None and self.activation in fused.ACTIVATIONS:
            return fused.bias_activation(z, bias, self.activation)
        z += bias
        return self._activate(z)

    def _hwc(self, x) -> bool:
        """Whether `x` (N, C, H, W) lies in NHWC memory, so it flattens in (H, W, C) order free."""
        return (
            x.ndim == 4
            and x.shape[1] > 1
            and x.shape[2] * x.shape[3] > 1
            and x.transpose(0, 2, 3, 1).flags.c_contiguous
        )

    def _to_hwc(self, w):
        """(units, C·H·W) weights reordered to (units, H·W·C)."""
        c, h, wd = self.input_shape
        return w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)

    def _from_hwc(self, w):
        c, h, wd = self.input_shape
        return self.xp.ascontiguousarray(w.reshape(-1, h, wd, c).transpose(0, 3, 1, 2)).reshape(
            w.shape[0], -1
        )

    def forward(self, x, params, train, rng):
        hwc = self._hwc(x)
        weight = self._to_hwc(params["weight"]) if hwc else params["weight"]
        x = x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1) if hwc else x.reshape(x.shape[0], -1)
        if train and self.dropout > 0:
            keep = 1.0 - self.dropout
            mask = (rng.random_sample(x.shape) < keep).astype(x.dtype)
            mask *= 1.0 / keep
            x = x * mask
        else:
            mask = None
        z = self._matmul(x, weight.T)
        a = self._add_bias_and_activate(z, params["bias"])
        return a, (x, mask, activations.saved(self.activation, z, a), weight if hwc else None)

    def _preactivation_grad(self, grad, a):
        return activations.backward(self.xp, self.activation, a, grad)

    def _weight_gradient(self, dz, x, hwc):
        """dzᵀ·x in the weights' (C, H, W) order; `hwc` when x is flattened in (H, W, C) order."""
        if not hwc:
            return self._matmul(dz.T, x)
        if not (self.backend.on_host and x.shape[0] < self.units):
            return self._from_hwc(self._matmul(dz.T, x))
        c, h, w = self.input_shape
        chw = self._backward_array("x", x.shape, x.dtype)
        self.xp.copyto(chw.reshape(-1, c, h, w), x.reshape(-1, h, w, c).transpose(0, 3, 1, 2))
        return self._matmul(dz.T, chw)

    def backward(self, grad, cache, params, need_dx, beside=INLINE):
        x, mask, a, hwc_weight = cache
        dz = self._preactivation_grad(grad, a)
        grads = {"weight": self._weight_gradient(dz, x, hwc_weight is not None), "bias": dz.sum(axis=0)}
        if not need_dx:
            return None, grads
        dx = self._matmul(dz, params["weight"] if hwc_weight is None else hwc_weight)
        if mask is not None:
            dx *= mask
        if hwc_weight is None:
            return dx.reshape((-1, *self.input_shape)), grads
        c, h, w = self.input_shape
        return dx.reshape(-1, h, w, c).transpose(0, 3, 1, 2), grads


class Softmax(Dense):
    """Outputs class probabilities; its backward expects the gradient w.r.t. the logits."""

    def _add_bias_and_activate(self, z, bias):
        fused = self.backend.fused
        if fused is not None and z.flags.c_contiguous:
            return fused.bias_softmax(z, bias)
        z += bias
        return self._activate(z)

    def _activate(self, z):
        xp = self.xp
        z -= z.max(axis=1, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def _preactivation_grad(self, grad, a):
        return grad
