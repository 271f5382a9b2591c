"""Fully connected layers: the flattened input (C, H, W order) times the weights, plus a bias.

Dropout, as in network3, drops each of the layer's *inputs* with probability `dropout` during
training (inverted, so inference needs no rescaling). The softmax output layer is a dense layer
whose backward takes dL/dlogits, which the log-likelihood cost gives in closed form."""

from __future__ import annotations

from engine import activations
from engine.layers.base import Layer


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

    def forward(self, x, params, train, rng):
        x = x.reshape(x.shape[0], -1)
        if train and self.dropout > 0:
            keep = 1.0 - self.dropout
            mask = (rng.random_sample(x.shape) < keep).astype(x.dtype)
            mask *= 1.0 / keep
            x = x * mask
        else:
            mask = None
        z = x @ params["weight"].T
        z += params["bias"]
        a = self._activate(z)
        return a, (x, mask, a)

    def _preactivation_grad(self, grad, a):
        return activations.backward(self.xp, self.activation, a, grad)

    def backward(self, grad, cache, params, need_dx):
        x, mask, a = cache
        dz = self._preactivation_grad(grad, a)
        grads = {"weight": dz.T @ x, "bias": dz.sum(axis=0)}
        if not need_dx:
            return None, grads
        dx = dz @ params["weight"]
        if mask is not None:
            dx *= mask
        return dx.reshape((-1, *self.input_shape)), grads


class Softmax(Dense):
    """Outputs class probabilities; its backward expects the gradient w.r.t. the logits."""

    def _activate(self, z):
        xp = self.xp
        z -= z.max(axis=1, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def _preactivation_grad(self, grad, a):
        return grad
