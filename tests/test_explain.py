"""The kernel explainer's cells against the engine's feature maps, the notes' example against
hand-computed tables, the input gradient against finite differences, and the occlusion map
against occluded images predicted one by one."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.explain import (
    NOTES_BIAS,
    NOTES_IMAGE,
    Axis,
    PoolExplainer,
    explain_layer,
    explainable_layers,
    notes_example,
    resized_kernel,
)
from engine.network import Network
from engine.occlusion import occlusion_map

# The notes' example worked by hand: output (i, j) is b = 2 plus the five pixels under the
# kernel's ones (its corners and centre).
NO_PADDING = [[6, 5, 6], [4, 6, 5], [4, 5, 6]]
STRIDE_2 = [[6, 6], [4, 6]]
PADDING_1 = [
    [4, 4, 5, 3, 3],
    [3, 6, 5, 6, 3],
    [3, 4, 6, 5, 5],
    [3, 4, 5, 6, 3],
    [2, 4, 4, 3, 3],
]


@pytest.mark.parametrize(
    ("stride", "padding", "table"), [(1, 0, NO_PADDING), (2, 0, STRIDE_2), (1, 1, PADDING_1)]
)
def test_notes_example_matches_the_hand_computed_table(stride, padding, table):
    explainer = notes_example(stride, padding)
    assert explainer.output_shape == (len(table), len(table[0]))
    for i, row in enumerate(table):
        for j, expected in enumerate(row):
            assert explainer.cell(0, i, j).output == expected, (i, j)


def test_notes_example_first_window_is_written_out():
    cell = notes_example().cell(0, 0, 0)
    assert cell.window[0].tolist() == [[1, 1, 1], [0, 1, 1], [0, 0, 1]]
    assert cell.products[0].tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert cell.channel_sums.tolist() == [4]
    assert (cell.bias, cell.total, cell.output) == (2, 6, 6)


def test_padding_ring_is_zeros_around_the_image():
    padded = notes_example(padding=1).padded[0]
    assert padded.shape == (7, 7)
    assert not padded[0].any() and not padded[-1].any()
    assert not padded[:, 0].any() and not padded[:, -1].any()


def test_output_size_formula_with_uneven_padding():
    axis = Axis(n=6, k=4, s=1, before=1, after=2)  # 'same' padding for an even kernel
    assert axis.out == 6
    assert axis.formula() == "⌊(6 + 1 + 2 − 4)/1⌋ + 1 = 6"
    assert Axis(n=28, k=5, s=2).formula() == "⌊(28 + 0 + 0 − 5)/2⌋ + 1 = 12"
    too_big = Axis(n=3, k=5, s=1)
    assert too_big.out == 0 and "larger than the padded input" in too_big.formula()


@st.composite
def conv_pool_specs(draw):
    channels = draw(st.integers(1, 3))
    h, w = draw(st.integers(4, 9)), draw(st.integers(4, 9))
    kernel = [draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))]
    padding = draw(st.sampled_from([0, 1, 2, "same"]))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    conv = {
        "type": "conv",
        "filters": draw(st.integers(1, 3)),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "activation": draw(st.sampled_from(["relu", "sigmoid", "tanh", "linear"])),
    }
    spec = {"input": [channels, h, w], "classes": 3, "layers": [conv]}
    net = Network({**spec, "layers": [conv, {"type": "softmax"}]}, device="cpu")
    _, out_h, out_w = net.infos[0].output_shape
    pool_h, pool_w = draw(st.integers(1, min(out_h, 3))), draw(st.integers(1, min(out_w, 3)))
    pool = {
        "type": "pool",
        "mode": draw(st.sampled_from(["max", "mean"])),
        "size": [pool_h, pool_w],
        "stride": [draw(st.integers(1, 3)), draw(st.integers(1, 3))],
    }
    return {**spec, "layers": [conv, pool, {"type": "softmax"}]}


@settings(max_examples=25)
@given(spec=conv_pool_specs(), seed=st.integers(0, 1000))
def test_explainer_cells_equal_the_engines_feature_maps(device, spec, seed):
    net = Network(spec, seed=seed, device=device)
    x = np.random.default_rng(seed).normal(size=spec["input"]).astype(np.float32)
    maps = net.feature_maps(x[None])
    assert explainable_layers(net) == [0, 1]
    for index in (0, 1):
        explainer = explain_layer(net, x, index)
        assert (explainer.filters, *explainer.output_shape) == maps[index].shape[1:]
        for f in range(explainer.filters):
            np.testing.assert_allclose(explainer.feature_map(f), maps[index][0, f], rtol=1e-5, atol=1e-6)


def test_pool_cell_names_the_maximum_it_keeps():
    maps = np.arange(16, dtype=np.float32).reshape(1, 4, 4)[:, ::-1]
    cell = PoolExplainer(maps, (2, 2), (2, 2), "max").cell(0, 1, 1)
    assert cell.window.tolist() == [[6, 7], [2, 3]]  # rows 2-3 of the flipped 0..15
    assert (cell.output, cell.kept_at) == (7, (0, 1))
    mean = PoolExplainer(maps, (2, 2), (2, 2), "mean").cell(0, 0, 0)
    assert mean.output == (12 + 13 + 8 + 9) / 4 and mean.kept_at is None


def test_what_if_stride_and_padding_change_the_walk(device):
    spec = {
        "input": [1, 8, 8],
        "classes": 2,
        "layers": [{"type": "conv", "filters": 2, "kernel": 3}, {"type": "softmax"}],
    }
    net = Network(spec, device=device)
    x = np.random.default_rng(1).random((1, 8, 8), dtype=np.float32)
    explainer = explain_layer(net, x, 0, stride=(2, 2), padding=(1, 1, 1, 1))
    assert explainer.output_shape == (4, 4)
    own = explain_layer(net, x, 0)
    # Padding 1 shifts the windows by one pixel, stride 2 skips every other: cell (1, 1) of the
    # what-if walk is the layer's own cell (1, 1) shifted back, at padded (2, 2) = input (1, 1).
    assert explainer.cell(1, 1, 1).output == pytest.approx(own.cell(1, 1, 1).output, rel=1e-6)


INPUT_GRADIENT_SPEC = {
    "input": [2, 7, 7],
    "classes": 4,
    "layers": [
        {"type": "conv", "filters": 3, "kernel": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "conv", "filters": 4, "kernel": 2, "stride": 1, "activation": "tanh"},
        {"type": "dense", "units": 5, "activation": "sigmoid"},
        {"type": "softmax"},
    ],
}


def _random_network(seed: int, device, dtype=np.float32) -> Network:
    """The network with every parameter drawn at random (a fresh softmax layer is all zeros,
    and so would be every gradient through it)."""
    net = Network(INPUT_GRADIENT_SPEC, device=device, dtype=dtype)
    rng = np.random.default_rng(seed)
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.state_dict().items()})
    return net


def _logit(net: Network, x: np.ndarray, cls: int) -> float:
    """The softmax layer's input for class `cls`, from the host copies of the parameters."""
    hidden = net.feature_maps(x[None])[-2][0]
    state = net.state_dict()
    last = len(net.layers) - 1
    return float(state[f"layers.{last}.weight"][cls] @ hidden.ravel() + state[f"layers.{last}.bias"][cls])


@pytest.mark.parametrize("target", [None, 2])
def test_input_gradient_matches_finite_differences(device, target):
    net = _random_network(3, device, np.float64)
    x = np.random.default_rng(4).normal(size=(2, 7, 7))
    saliency = net.backend.to_host(net.input_gradient(x[None], target))[0]
    cls = int(net.predict(x[None])[0]) if target is None else target
    eps = 1e-6
    numeric = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (_logit(net, up, cls) - _logit(net, down, cls)) / (2 * eps)
    assert numeric.any()
    np.testing.assert_allclose(saliency, np.abs(numeric), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("target", [None, 1])
def test_occlusion_map_matches_images_occluded_one_by_one(device, target):
    net = _random_network(5, device)
    x = np.random.default_rng(6).random((2, 7, 7), dtype=np.float32)
    drop_map, cls = occlusion_map(net, x, patch=3, stride=2, target=target, fill=0.5)
    drop_map = net.backend.to_host(drop_map)
    base = net.predict_proba(x[None])[0]
    assert cls == (int(base.argmax()) if target is None else target)
    total, count = np.zeros((7, 7)), np.zeros((7, 7))
    for r in range(0, 5, 2):
        for c in range(0, 5, 2):
            covered = x.copy()
            covered[:, r : r + 3, c : c + 3] = 0.5
            total[r : r + 3, c : c + 3] += base[cls] - net.predict_proba(covered[None])[0, cls]
            count[r : r + 3, c : c + 3] += 1
    np.testing.assert_allclose(drop_map, total / count, rtol=1e-4, atol=1e-6)
    assert np.abs(drop_map).max() > 0


def test_a_what_if_kernel_is_the_weights_centre_or_the_weights_ringed_with_zeros():
    weights = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    assert resized_kernel(weights, (1, 1))[0, 0].tolist() == [[5]]
    grown = resized_kernel(weights, (5, 4))[0, 0]
    assert grown[1:4, 0:3].tolist() == weights[0, 0].tolist()
    assert grown.sum() == weights.sum() and grown.shape == (5, 4)
    # The notes' example with a 1×1 kernel (its centre weight, 1) is the image plus the bias.
    explainer = notes_example(size=(1, 1))
    np.testing.assert_array_equal(explainer.feature_map(0), NOTES_IMAGE + NOTES_BIAS)
    assert explainer.rows.formula() == "⌊(5 + 0 + 0 − 1)/1⌋ + 1 = 5"

