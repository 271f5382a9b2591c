"""The fused kernels' wiring (engine/gpu/kernels.py on a GPU): a backend that offers fused
kernels gets the SGD update and the dense layers' bias + ReLU through them. Here they are
stand-ins with the kernels' arithmetic in array operations, so a run through them must equal the
plain run bit for bit; tests/benchmarks/gpu_check.py checks the CUDA kernels against NumPy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import SGD, Network, fit


class StandIn:
    """engine.gpu.kernels' interface, in the backend's array operations, counting its calls."""

    ACTIVATIONS = ("relu",)

    def __init__(self, xp) -> None:
        self.xp = xp
        self.calls = {"sgd": 0, "bias_activation": 0, "bias_softmax": 0, "cross_entropy": 0}

    def sgd(self, param, grad, velocity, lr, momentum, l2) -> None:
        self.calls["sgd"] += 1
        if velocity is None:
            param -= lr * (grad + l2 * param)
            return
        velocity *= momentum
        velocity += grad + l2 * param
        param -= lr * velocity

    def bias_activation(self, z, bias, activation):
        self.calls["bias_activation"] += 1
        z += bias
        return self.xp.maximum(z, 0, out=z)

    def bias_softmax(self, z, bias):
        self.calls["bias_softmax"] += 1
        xp = self.xp
        z += bias
        z -= z.max(axis=1, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def cross_entropy(self, probs, y, scale, tiny):
        self.calls["cross_entropy"] += 1
        xp = self.xp
        n = probs.shape[0]
        rows = xp.arange(n)
        loss = -xp.log(xp.maximum(probs[rows, y], tiny)).mean() * n
        grad = probs.copy()
        grad[rows, y] -= 1
        grad *= scale
        return loss, (probs.argmax(axis=1) == y).sum(), grad


SPEC = {
    "input": [1, 8, 8],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "dense", "units": 8, "activation": "relu"},
        {"type": "softmax"},
    ],
}


def _run(device, momentum: float, **options):
    rng = np.random.default_rng(5)
    x, y = rng.random((64, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, 64)
    net = Network(SPEC, seed=4, device=device)
    opt = SGD(lr=0.1, momentum=momentum, l2=1e-3)
    history = fit(net, (x, y), epochs=2, batch_size=16, optimizer=opt, threads=1, **options)
    return net.state_dict(), opt.state_dict(net.backend), history.batch_loss


@pytest.mark.parametrize("momentum", [0.9, 0.0])
@pytest.mark.parametrize("capture", [False, True])
def test_fused_kernels_train_as_the_plain_operations(device, momentum, capture):
    fused = StandIn(device.xp)
    plain = _run(device, momentum)
    with_fused = _run(dataclasses.replace(device, fused=fused), momentum, capture=capture)
    assert with_fused[2] == plain[2]
    for mine, theirs in zip(with_fused[:2], plain[:2], strict=True):
        assert mine.keys() == theirs.keys()
        for k in mine:
            np.testing.assert_array_equal(mine[k], theirs[k], err_msg=k)
    # 8 steps of 6 parameters; one dense ReLU layer and one softmax layer per training step.
    assert fused.calls == {"sgd": 8 * 6, "bias_activation": 8, "bias_softmax": 8, "cross_entropy": 8}
