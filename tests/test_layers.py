"""Layer math: finite-difference gradient checks in float64, convolution against SciPy, pooling
against a direct loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate

from engine import SGD, Adam, Network, jit
from engine.activations import Custom
from engine.backend import NUMPY
from engine.layers import conv as conv_module
from engine.layers import make_layer
from engine.layers import pool as pool_module
from engine.spec import infer


def _spec(input_shape, *layers, classes=3):
    return {"input": list(input_shape), "classes": classes, "layers": [*layers, {"type": "softmax"}]}


GRADIENT_SPECS = {
    "conv-relu-maxpool-dense-sigmoid": _spec(
        (1, 8, 8),
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 5, "activation": "sigmoid"},
    ),
    "stride2-padding1-tanh-meanpool-stride-ne-size": _spec(
        (2, 9, 9),
        {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "padding": 1, "activation": "tanh"},
        {"type": "pool", "mode": "mean", "size": 3, "stride": 2},
    ),
    "same-even-kernel-sigmoid-overlapping-maxpool-dropout": _spec(
        (1, 7, 7),
        {"type": "conv", "filters": 2, "kernel": 4, "padding": "same", "activation": "sigmoid"},
        {"type": "pool", "mode": "max", "size": 3, "stride": 1},
        {"type": "dense", "units": 6, "activation": "linear", "dropout": 0.3},
        {"type": "dense", "units": 4, "activation": "relu", "dropout": 0.2},
    ),
    "rect-maxpool-rect-stride-after-relu": _spec(
        (1, 9, 10),
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": [2, 3], "stride": [2, 1]},
        {"type": "dense", "units": 4, "activation": "tanh"},
    ),
    "winograd-conv-on-conv-relu-maxpool": _spec(
        (1, 8, 8),
        {"type": "conv", "filters": 4, "kernel": 3, "padding": 1, "activation": "tanh"},
        {"type": "conv", "filters": 3, "kernel": 5, "padding": 2, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
    ),
    "dense-custom-activation": _spec(
        (1, 5, 5),
        {"type": "dense", "units": 6, "activation": Custom(np.sin, np.cos), "dropout": 0.2},
    ),
    "rect-kernel-conv-on-conv-linear": _spec(
        (2, 6, 7),
        {"type": "conv", "filters": 3, "kernel": [3, 2], "stride": 2, "activation": "linear"},
        {"type": "conv", "filters": 2, "kernel": 2, "padding": 2, "activation": "relu"},
    ),
}


def _numeric_check(loss_at, param, analytic, rng, checks=12, eps=1e-6):
    """Compare `analytic` to central differences of `loss_at()` at a few entries of `param`
    (a device array: its entries are set from and read back to the host one number at a time)."""
    analytic = np.asarray(analytic.tolist())
    for flat in rng.choice(param.size, size=min(checks, param.size), replace=False):
        idx = np.unravel_index(flat, param.shape)
        old = analytic.dtype.type(param[idx].item())
        param[idx] = old + eps
        plus = float(loss_at())
        param[idx] = old - eps
        minus = float(loss_at())
        param[idx] = old
        numeric = (plus - minus) / (2 * eps)
        assert analytic[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), idx


@pytest.mark.parametrize("name", GRADIENT_SPECS)
def test_gradients_match_finite_differences(name, device):
    spec = GRADIENT_SPECS[name]
    rng = np.random.default_rng(1)
    net = Network(spec, seed=3, device=device, init="he", dtype=np.float64)
    # non-zero softmax weights, so earlier layers get real gradients
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.params.items()})
    x = rng.random((4, *spec["input"]))
    y = rng.integers(0, spec["classes"], 4)
    _, grads = net.loss_and_grads(x, y)
    assert grads.keys() == net.params.keys()
    for key, param in net.params.items():
        _numeric_check(lambda: net.loss_and_grads(x, y)[0], param, grads[key], rng)


@pytest.mark.parametrize("optimizer", [SGD(lr=0.1, l2=0.3), Adam(l2=0.3)])
def test_l2_gradient_is_that_of_the_decayed_cost(optimizer, device):
    """L2 λ adds ½λ‖w‖² to the cost for weights, not biases."""
    spec = GRADIENT_SPECS["conv-relu-maxpool-dense-sigmoid"]
    rng = np.random.default_rng(2)
    net = Network(spec, seed=0, device=device, dtype=np.float64)
    x, y = rng.random((3, *spec["input"])), rng.integers(0, 3, 3)

    def cost():
        decay = sum((w**2).sum() for k, w in net.params.items() if k.endswith(".weight"))
        return net.loss_and_grads(x, y)[0] + 0.5 * optimizer.l2 * decay

    _, grads = net.loss_and_grads(x, y)
    for key, param in net.params.items():
        _numeric_check(cost, param, optimizer._grad(key, param, grads[key]), rng, checks=5)


def _layer(spec_layer, input_shape, dtype=np.float64):
    info = infer(_spec(input_shape, spec_layer))[0]
    return make_layer(info, NUMPY), info


@settings(max_examples=40, deadline=None)
@given(
    channels=st.integers(1, 3),
    filters=st.integers(1, 3),
    size=st.integers(4, 10),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_conv_forward_agrees_with_scipy_correlate(channels, filters, size, kernel, stride, padding, seed):
    rng = np.random.default_rng(seed)
    layer_spec = {
        "type": "conv",
        "filters": filters,
        "kernel": list(kernel),
        "stride": stride,
        "padding": padding,
        "activation": "linear",
    }
    layer, info = _layer(layer_spec, (channels, size, size))
    w = rng.normal(size=layer.param_shapes()["weight"])
    b = rng.normal(size=filters)
    x = rng.normal(size=(2, channels, size, size))
    out, _ = layer.forward(x, {"weight": w, "bias": b}, False, None)
    assert out.shape == (2, *info.output_shape)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for n in range(2):
        for f in range(filters):
            full = sum(correlate(xp[n, c], w[f, c], mode="valid") for c in range(channels))
            np.testing.assert_allclose(out[n, f], full[::stride, ::stride] + b[f], rtol=1e-10, atol=1e-10)


def test_same_padding_keeps_the_size_for_even_and_odd_kernels():
    for k in (1, 2, 3, 4, 5):
        _, info = _layer({"type": "conv", "filters": 1, "kernel": k, "padding": "same"}, (1, 9, 9))
        assert info.output_shape == (1, 9, 9)


#: Pooling layers of every mode, size and stride (equal or not) over small maps, each test run
#: with the compiled kernels and with the NumPy code (`host_kernels`, switched once per test).
_pairs = st.tuples(st.integers(1, 4), st.integers(1, 4))
pool_cases = given(
    mode=st.sampled_from(["max", "mean"]),
    size=_pairs,
    stride=_pairs,
    height=st.integers(4, 9),
    width=st.integers(4, 9),
    seed=st.integers(0, 2**16),
)


pool_settings = settings(max_examples=40, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pool_settings
@pool_cases
def test_pooling_agrees_with_a_direct_loop(mode, size, stride, height, width, seed, host_kernels):
    rng = np.random.default_rng(seed)
    layer, info = _layer(
        {"type": "pool", "mode": mode, "size": list(size), "stride": list(stride)}, (2, height, width)
    )
    (ph, pw), (sh, sw) = size, stride
    x = rng.normal(size=(2, 2, height, width))
    out, _ = layer.forward(x, {}, False, None)
    _, out_h, out_w = info.output_shape
    # floor: windows that don't fit are dropped
    assert (out_h, out_w) == ((height - ph) // sh + 1, (width - pw) // sw + 1)
    reduce = np.max if mode == "max" else np.mean
    expected = np.empty((2, 2, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * sh : i * sh + ph, j * sw : j * sw + pw]
            expected[:, :, i, j] = reduce(window, axis=(2, 3))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pool_settings
@pool_cases
def test_pooling_gradient_agrees_with_a_direct_loop(mode, size, stride, height, width, seed, host_kernels):
    """Small integer inputs tie often: each max window's gradient goes to its first maximum in
    row-major order, as an argmax would send it; windows that overlap add up."""
    rng = np.random.default_rng(seed)
    layer, info = _layer(
        {"type": "pool", "mode": mode, "size": list(size), "stride": list(stride)}, (2, height, width)
    )
    (ph, pw), (sh, sw) = size, stride
    x = rng.integers(0, 3, size=(2, 2, height, width)).astype(np.float64)
    out, cache = layer.forward(x, {}, True, None)
    grad = rng.normal(size=out.shape)
    dx, _ = layer.backward(grad, cache, {}, True)
    expected = np.zeros_like(x)
    _, out_h, out_w = info.output_shape
    for n in range(2):
        for c in range(2):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * sh, j * sw
                    if mode == "mean":
                        expected[n, c, top : top + ph, left : left + pw] += grad[n, c, i, j] / (ph * pw)
                    else:
                        window = x[n, c, top : top + ph, left : left + pw]
                        di, dj = divmod(int(np.argmax(window)), pw)
                        expected[n, c, top + di, left + dj] += grad[n, c, i, j]
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-12)


def test_max_pool_sends_a_tied_window_gradient_to_one_input_only(host_kernels):
    layer, _ = _layer({"type": "pool", "mode": "max", "size": 2}, (1, 2, 2))
    x = np.ones((2, 1, 2, 2))  # two images: one alone keeps the NumPy code (pool.MIN_IMAGES)
    out, cache = layer.forward(x, {}, False, None)
    dx, _ = layer.backward(np.full_like(out, 3.0), cache, {}, True)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]] * 2)
    layer.all_maxima = True  # Theano's rule, as network3 has it
    dx, _ = layer.backward(np.full_like(out, 3.0), cache, {}, True)
    np.testing.assert_array_equal(dx, np.full((2, 1, 2, 2), 3.0))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_ties_to_every_maximum_give_the_weights_every_copy_and_the_bias_one_per_window(activation, device,
                                                                                      host_kernels):
    """On a blank image every 2×2 window holds its maximum four times. network3 (bias after
    pooling) gives the 1×1 kernel the gradient of all four copies and the bias that of the
    window: 4:1. The engine's default sends it to the first copy only: 1:1."""
    spec = _spec(
        (1, 4, 6),
        {"type": "conv", "filters": 2, "kernel": 1, "activation": activation},
        {"type": "pool", "mode": "max", "size": [2, 3]},
    )
    net = Network(spec, seed=1, device=device, dtype=np.float64)
    net.params["layers.0.bias"][...] = device.to_device(np.array([0.5, 1.5]))
    x, y = np.ones((3, 1, 4, 6)), np.array([0, 1, 2])
    first = {k: device.to_host(g) for k, g in net.loss_and_grads(x, y)[1].items()}
    np.testing.assert_allclose(first["layers.0.weight"].ravel(), first["layers.0.bias"])
    net.send_ties_to_every_maximum()
    every = {k: device.to_host(g) for k, g in net.loss_and_grads(x, y)[1].items()}
    np.testing.assert_allclose(every["layers.0.weight"].ravel(), 6 * every["layers.0.bias"])
    np.testing.assert_allclose(every["layers.0.bias"], first["layers.0.bias"])
    np.testing.assert_allclose(every["layers.2.weight"], first["layers.2.weight"])


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
def test_activations_forward(activation):
    layer, _ = _layer({"type": "dense", "units": 3, "activation": activation}, (1, 1, 2))
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    x = np.array([[[[-2.0, 0.5]]]])
    out, _ = layer.forward(x, {"weight": w, "bias": np.zeros(3)}, False, None)
    z = np.array([[-2.0, 0.5, -1.5]])
    expected = {
        "relu": np.maximum(z, 0),
        "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": np.tanh(z),
        "linear": z,
    }[activation]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_dropout_is_inverted_and_only_active_in_training():
    layer, _ = _layer({"type": "dense", "units": 1, "activation": "linear", "dropout": 0.5}, (1, 1, 4000))
    params = {"weight": np.ones((1, 4000)), "bias": np.zeros(1)}
    x = np.ones((1, 1, 1, 4000))
    assert layer.forward(x, params, False, None)[0][0, 0] == 4000
    trained, _ = layer.forward(x, params, True, np.random.RandomState(0))
    assert trained[0, 0] == pytest.approx(4000, rel=0.1)  # kept inputs are scaled by 1 / (1 - p)


def test_parameters_use_pytorch_layouts_and_chw_flattening(device):
    """A reference forward pass written the way PyTorch lays tensors out ((out, in, kh, kw)
    kernels, (out, in) dense weights, flattening in (C, H, W) order) gives the network's output,
    so a weight file loads into the equivalent torch.nn.Sequential with only a key rename."""
    spec = _spec(
        (2, 9, 9),
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 5, "activation": "tanh"},
        classes=4,
    )
    rng = np.random.default_rng(5)
    net = Network(spec, seed=1, device=device, init="he", dtype=np.float64)
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.params.items()})
    p = net.state_dict()
    x = rng.random((3, 2, 9, 9))
    conv = (
        np.stack(
            [
                [
                    sum(correlate(img[c], p["layers.0.weight"][f, c], mode="valid") for c in range(2))
                    for f in range(3)
                ]
                for img in x
            ]
        )
        + p["layers.0.bias"][None, :, None, None]
    )
    conv = np.maximum(conv, 0)
    pooled = conv[:, :, :6, :6].reshape(3, 3, 3, 2, 3, 2).max(axis=(3, 5))
    hidden = np.tanh(pooled.reshape(3, -1) @ p["layers.2.weight"].T + p["layers.2.bias"])
    logits = hidden @ p["layers.3.weight"].T + p["layers.3.bias"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(net.predict_proba(x), expected, rtol=1e-10)


@pytest.mark.parametrize("images", [1, 10, 99, 100, 128])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_dense_layers_weight_gradient_from_its_input_in_chw_order_is_the_permuted_one(images, dtype):
    """On the host, fewer images than units copy the NHWC input into (C, H, W) order for the
    weight gradient instead of permuting the gradient: the same sums over the batch, so the
    same bits as the permuted gradient (what a device, on_host false, computes), and the same
    output and input gradient."""
    info = infer(Network().spec)[4]
    assert info.type == "dense" and info.output_shape == (100,)
    rng = np.random.default_rng(images)
    shapes = {"weight": (100, 640), "bias": (100,)}
    params = {k: rng.normal(0, 0.1, shape).astype(dtype) for k, shape in shapes.items()}
    x = rng.random((images, 4, 4, 40)).astype(dtype).transpose(0, 3, 1, 2)  # NHWC memory
    grad = rng.normal(size=(images, 100)).astype(dtype)
    results = []
    for backend in (NUMPY, dataclasses.replace(NUMPY, on_host=False)):
        layer = make_layer(info, backend)
        out, cache = layer.forward(x, params, True, None)
        dx, grads = layer.backward(grad, cache, params, True)
        assert dx.transpose(0, 2, 3, 1).flags.c_contiguous  # NHWC, as the pool below wants it
        results.append([out.copy(), dx.copy(), grads["weight"].copy(), grads["bias"].copy()])
    for host, device in zip(*results, strict=True):
        assert host.dtype == dtype and host.shape == device.shape
        np.testing.assert_array_equal(host, device)


@pytest.mark.parametrize("stride", [2, 1])
def test_a_max_pool_applying_the_convs_relu_changes_no_gradient_and_no_feature_map(
    stride, device, host_kernels
):
    spec = _spec(
        (2, 10, 10),
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2, "stride": stride},
        {"type": "conv", "filters": 2, "kernel": 2, "activation": "relu"},
        {"type": "pool", "mode": "mean", "size": 2},
    )
    net = Network(spec, seed=1, device=device, dtype=np.float32)
    conv, pool, conv2, mean_pool = net.layers[:4]
    assert conv.relu_in_pool and pool.masks_relu
    assert not conv2.relu_in_pool and not mean_pool.masks_relu
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 2, 10, 10)).astype(np.float32), rng.integers(0, 3, 5)
    fused = net.loss_and_grads(x, y)[1]
    fused_maps = net.feature_maps(x)
    assert fused_maps[0].min() == 0  # the conv's maps are shown after its ReLU
    conv.relu_in_pool = pool.masks_relu = False
    plain = net.loss_and_grads(x, y)[1]
    assert all(np.array_equal(device.to_host(fused[k]), device.to_host(plain[k])) for k in plain)
    assert all(np.array_equal(a, b) for a, b in zip(fused_maps, net.feature_maps(x), strict=True))


def test_col2im_a_few_images_at_a_time_gives_the_whole_batchs_gradients(monkeypatch):
    """The host's col2im takes a large batch in chunks of COL2IM_BYTES of dz·W (here 2 images,
    so 5 images go as 2, 2 and a shorter last 1): the gradients stay the one-piece ones and
    those of finite differences."""
    spec = GRADIENT_SPECS["rect-kernel-conv-on-conv-linear"]
    rng = np.random.default_rng(4)
    net = Network(spec, seed=3, device=NUMPY, init="he", dtype=np.float64)
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.params.items()})
    x, y = rng.random((5, *spec["input"])), rng.integers(0, spec["classes"], 5)
    whole = net.loss_and_grads(x, y)[1]
    second = net.layers[1]
    (kh, kw), (c, _, _), (_, out_h, out_w) = second.kernel, second.input_shape, second.output_shape
    monkeypatch.setattr(conv_module, "COL2IM_BYTES", 2 * kh * kw * out_h * out_w * c * 8)
    chunked = net.loss_and_grads(x, y)[1]
    for key, param in net.params.items():
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-12, atol=1e-15)
        _numeric_check(lambda: net.loss_and_grads(x, y)[0], param, chunked[key], rng, checks=6)


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_pooling_a_few_images_at_a_time_gives_the_whole_batchs_maps(mode, monkeypatch):
    """NumPy's forward pass pools POOL_BLOCK_BYTES of input at a time (here 2 images, so 5 go as
    2, 2 and a shorter last 1): the maps, and the gradients through them, stay the one-piece ones.
    (The compiled kernels take the batch whole.)"""
    monkeypatch.setattr(jit, "enabled", lambda: False)
    spec = _spec(
        (2, 9, 9),
        {"type": "conv", "filters": 3, "kernel": 2, "activation": "relu"},
        {"type": "pool", "mode": mode, "size": 2, "stride": 2},
    )
    rng = np.random.default_rng(5)
    net = Network(spec, seed=3, device=NUMPY, dtype=np.float64)
    x, y = rng.normal(size=(5, 2, 9, 9)), rng.integers(0, 3, 5)
    whole_maps, whole = net.feature_maps(x), net.loss_and_grads(x, y)[1]
    monkeypatch.setattr(pool_module, "POOL_BLOCK_BYTES", 2 * 3 * 8 * 8 * 8)
    assert all(np.array_equal(a, b) for a, b in zip(net.feature_maps(x), whole_maps, strict=True))
    blocked = net.loss_and_grads(x, y)[1]
    assert all(np.array_equal(blocked[k], whole[k]) for k in whole)
    rows_pooled = [a for a in net.layers[1].workspace_arrays() if a.shape[2:] == (4, 8)]
    assert [a.shape[0] for a in rows_pooled] == [1]  # the last block's view
