"""The kernel explainer's Qt-free state: the walk over the output cells, jumps, the layer and
filter chosen, and "what if" geometry with its formula."""

import numpy as np

from engine.network import Network
from gui.explainer_model import NOTES, ExplainerModel, WhatIf

SPEC = {
    "input": [1, 8, 8],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "softmax"},
    ],
}


def test_walk_steps_through_the_notes_example_and_stops_at_the_ends():
    model = ExplainerModel()
    seen = []
    model.changed.connect(lambda: seen.append(model.cell().output))
    assert model.source == NOTES and model.cells == 9
    assert model.cell().output == 6
    assert not model.step(-1)
    while model.step():
        pass
    assert seen == [5, 6, 4, 6, 5, 4, 5, 6]
    assert model.at == (2, 2)
    model.jump(1, 0)
    assert model.at == (1, 0) and model.cell().output == 4


def test_what_if_padding_and_stride_rebuild_the_walk_and_formula():
    model = ExplainerModel()
    model.set_what_if(WhatIf((1, 1), padding=1))
    assert model.cells == 25
    assert model.formulas()[0] == "rows: ⌊(5 + 1 + 1 − 3)/1⌋ + 1 = 5"
    model.set_what_if(WhatIf((2, 2)))
    assert model.explainer.output_shape == (2, 2)
    model.set_what_if(None)
    assert model.cells == 9


def test_a_layer_of_the_network_on_an_input(device):
    net = Network(SPEC, device=device)
    x = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    model = ExplainerModel()
    model.set_input(net, x)
    model.choose(0)
    model.set_filter(1)
    maps = net.feature_maps(x[None])
    model.jump(5, 4)
    np.testing.assert_allclose(model.cell().output, maps[0][0, 1, 5, 4], rtol=1e-5, atol=1e-6)
    model.choose(1)
    assert model.own_geometry() == WhatIf((2, 2), 0, (2, 2))
    model.set_what_if(WhatIf((1, 1), 0, (3, 3)))
    assert model.explainer.output_shape == (4, 4)
    assert model.formulas()[1] == "columns: ⌊(6 + 0 + 0 − 3)/1⌋ + 1 = 4"


def test_a_window_larger_than_the_padded_input_leaves_no_cells(device):
    model = ExplainerModel()
    net = Network(SPEC, device=device)
    model.set_input(net, np.zeros((1, 8, 8), dtype=np.float32))
    model.choose(1)
    model.set_what_if(WhatIf((1, 1), 0, (7, 7)))
    assert model.cells == 0 and model.cell() is None
    assert "larger than the padded input" in model.formulas()[0]


def test_what_if_kernel_size_and_same_padding_fill_in_the_formula(device):
    spec = {
        "input": [1, 8, 8],
        "classes": 2,
        "layers": [
            {"type": "conv", "filters": 1, "kernel": 4, "padding": "same", "activation": "linear"},
            {"type": "softmax"},
        ],
    }
    net = Network(spec, device=device)
    x = np.random.default_rng(2).random((1, 8, 8), dtype=np.float32)
    model = ExplainerModel()
    model.set_input(net, x)
    model.choose(0)
    own = model.own_geometry()
    assert own == WhatIf((1, 1), "same", (4, 4))
    # 'same' with an even kernel pads one pixel before and two after.
    assert model.formulas()[0] == "rows: ⌊(8 + 1 + 2 − 4)/1⌋ + 1 = 8"
    model.set_what_if(WhatIf((1, 1), "same", (5, 5)))
    assert model.formulas() == ["rows: ⌊(8 + 2 + 2 − 5)/1⌋ + 1 = 8", "columns: ⌊(8 + 2 + 2 − 5)/1⌋ + 1 = 8"]
    model.set_what_if(WhatIf((2, 2), 0, (2, 2)))
    assert model.formulas()[1] == "columns: ⌊(8 + 0 + 0 − 2)/2⌋ + 1 = 4"
    # A 2×2 what-if kernel is the centre of the layer's 4×4 weights, at every window.
    weights = net.state_dict()["layers.0.weight"][0, 0, 1:3, 1:3]
    bias = net.state_dict()["layers.0.bias"][0]
    model.jump(1, 3)
    np.testing.assert_allclose(model.cell().weights[0], weights)
    expected = (x[0, 2:4, 6:8] * weights).sum() + bias
    np.testing.assert_allclose(model.cell().output, expected, rtol=1e-5, atol=1e-6)
    model.set_what_if(WhatIf((1, 1), "same", (2, 2)))
    assert model.formulas()[0] == "rows: ⌊(8 + 0 + 1 − 2)/1⌋ + 1 = 8"
    model.set_what_if(None)
    assert model.formulas()[0] == "rows: ⌊(8 + 1 + 2 − 4)/1⌋ + 1 = 8"
