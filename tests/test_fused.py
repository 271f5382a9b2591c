"""The fused kernels' wiring (engine/gpu/kernels.py on a GPU): a backend that offers fused
kernels gets the SGD update and the dense layers' bias + ReLU through them. Here they are
stand-ins with the kernels' arithmetic in array operations, so a run through them must equal the
plain run bit for bit; tests/benchmarks/gpu_check.py checks the CUDA kernels against NumPy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import SGD, Network, fit, jit, winograd
from engine.gpu.gemm_plan import plan, readable


@pytest.fixture(autouse=True)
def _gemm_convolutions(monkeypatch):
    """The stand-ins take the GPU's path, where convolutions stay im2col GEMMs and no host kernel
    runs: the plain runs they are compared with take it too (engine.winograd and the compiled
    kernels of engine.jit are the host's alone)."""
    monkeypatch.setattr(winograd, "plan", lambda *args: None)
    monkeypatch.setattr(jit, "enabled", lambda: False)


def _steps(x) -> tuple[int, ...]:
    return tuple(s // x.itemsize for s in x.strides)


class StandIn:
    """engine.gpu.kernels' interface, in the backend's array operations (the gathering kernels
    element by element, with the CUDA code's index arithmetic), counting its calls."""

    ACTIVATIONS = ("relu",)

    def __init__(self, xp) -> None:
        self.xp = xp
        self.calls = {"sgd": 0, "bias_activation": 0, "bias_softmax": 0, "cross_entropy": 0, "col2im": 0,
                      "max_pool_backward": 0, "matmul": 0}

    def matmul(self, a, b, out=None):
        """As engine.gpu.blas plans it: every product gets a cuBLAS call, an operand it cannot
        read where it lies copied first."""
        self.calls["matmul"] += 1
        first, second = (x if readable(x.shape, _steps(x)) else self.xp.ascontiguousarray(x) for x in (a, b))
        assert plan(first.shape, _steps(first), second.shape, _steps(second)) is not None
        return self.xp.matmul(a, b, out=out)

    def sgd(self, param, grad, velocity, lr, momentum, l2) -> None:
        self.calls["sgd"] += 1
        if velocity is None:
            param -= lr * (grad + l2 * param)
            return
        velocity *= momentum
        velocity += grad + l2 * param
        param -= lr * velocity

    def sgd_all(self, params, grads, velocities, lr, momentum, l2s) -> None:
        for i, param in enumerate(params):
            self.sgd(param, grads[i], None if velocities is None else velocities[i], lr, momentum, l2s[i])

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

    def col2im(self, dcols, dx, kernel, stride, out_hw):
        self.calls["col2im"] += 1
        cols, out = self.xp.asnumpy(dcols), np.empty(dx.shape, dtype=dx.dtype)
        n_all, hp, wp, c = dx.shape
        (kh, kw), (oh, ow), rows = kernel, out_hw, dcols.shape[1]
        for i in range(out.size):
            ch, rest = i % c, i // c
            col, rest = rest % wp, rest // wp
            row, n = rest % hp, rest // hp
            total = out.dtype.type(0)
            for a in range(kh):
                top = row - a
                if top < 0 or top % stride or top // stride >= oh:
                    continue
                for b in range(kw):
                    left = col - b
                    if left < 0 or left % stride or left // stride >= ow:
                        continue
                    at = (n * oh + top // stride) * ow + left // stride
                    total += cols.reshape(-1)[((a * kw + b) * rows + at) * c + ch]
            out.reshape(-1)[i] = total
        dx[...] = self.xp.asarray(out)
        return dx

    def max_pool_backward(self, x, out, grad, dx, size, relu):
        self.calls["max_pool_backward"] += 1
        xs, tops, grads = (self.xp.asnumpy(a).reshape(-1) for a in (x, out, grad))
        result = np.empty(x.shape, dtype=dx.dtype)
        _, c, h, w = x.shape
        _, _, oh, ow = out.shape
        ph, pw = size
        for i in range(result.size):
            col, rest = i % w, i // w
            row, rest = rest % h, rest // h
            ch, n = rest % c, rest // c
            r, q = row // ph, col // pw
            value = result.dtype.type(0)
            if r < oh and q < ow:
                at = ((n * c + ch) * oh + r) * ow + q
                top = tops[at]
                if relu and top <= 0:
                    value = grads[at] * 0
                else:
                    base = (n * c + ch) * h + r * ph
                    window = [(base + k // pw) * w + q * pw + k % pw for k in range(ph * pw)]
                    first = next((k for k, at_x in enumerate(window) if xs[at_x] == top), -1)
                    value = grads[at] * (1 if first == (row - r * ph) * pw + (col - q * pw) else 0)
            result.reshape(-1)[i] = value
        dx[...] = self.xp.asarray(result)
        return dx


SPEC = {
    "input": [1, 9, 9],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 3, "kernel": 2, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "conv", "filters": 4, "kernel": 2, "stride": 2, "padding": 1, "activation": "tanh"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 8, "activation": "relu"},
        {"type": "softmax"},
    ],
}


def _run(device, momentum: float, **options):
    rng = np.random.default_rng(5)
    x, y = rng.random((64, 1, 9, 9), dtype=np.float32), rng.integers(0, 3, 64)
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
    # 8 steps of 8 parameters; per step one dense ReLU layer, one softmax, one conv that sends a
    # gradient back (the first needs none) and two max pools; the matrix products: each conv's
    # forward and weight gradient, the second's input gradient, each dense layer's three.
    assert fused.calls == {"sgd": 8 * 8, "bias_activation": 8, "bias_softmax": 8, "cross_entropy": 8,
                           "col2im": 8, "max_pool_backward": 16, "matmul": 8 * 11}


def test_every_product_of_the_default_networks_step_gets_a_cublas_call(device):
    """Anything left to CuPy's matmul would stop a CUDA graph's capture: CuPy refuses cuBLAS
    while a stream is captured (the 19:37 GPU run's failure: conv's per-offset weights, a
    reshaped transpose, were not readable where they lay)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 128)
    fused = StandIn(device.xp)
    plain = Network(seed=0, device=device)
    with_fused = Network(seed=0, device=dataclasses.replace(device, fused=fused))
    for net in (plain, with_fused):
        fit(net, (x, y), epochs=1, batch_size=64, optimizer=SGD(), threads=1)
    assert fused.calls["matmul"] == 2 * 11
    mine, theirs = with_fused.state_dict(), plain.state_dict()
    for k in mine:
        np.testing.assert_array_equal(mine[k], theirs[k], err_msg=k)
