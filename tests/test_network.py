"""The network's parameters: live arrays in PyTorch's layouts, carried over an edit where their
shapes survive."""

from __future__ import annotations

import numpy as np
from small_network import SMALL

from engine import (
    Network,
)


def test_parameters_are_live_and_follow_pytorch_layouts(device):
    net = Network(device=device)
    assert net.params["layers.0.weight"].shape == (20, 1, 5, 5)
    assert net.params["layers.4.weight"].shape == (100, 640)
    assert not net.params["layers.5.weight"].any()  # network3: softmax starts at zero
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    before = net.predict_proba(x)
    net.params["layers.5.bias"][3] += 5.0
    assert net.predict_proba(x)[:, 3].min() > before[:, 3].max()


def test_take_weights_keeps_layers_whose_shapes_survive_an_edit(device):
    old = Network(SMALL, seed=1, device=device)
    old.metadata["epochs"] = 3
    spec = {**SMALL, "layers": [dict(layer) for layer in SMALL["layers"]]}
    spec["layers"].insert(2, {"type": "conv", "filters": 4, "kernel": 1})  # new layer 2
    spec["layers"][5]["units"] = 12  # old dense layer 4, now 5, changes shape
    new = Network(spec, seed=2, device=device)
    fresh = new.state_dict()
    reset = new.take_weights(old, {0: 0, 1: 1, 3: 2, 4: 3, 5: 4, 6: 5})
    assert reset == [2, 5, 6]  # the inserted conv, the resized dense, the softmax fed by it
    before, after = old.state_dict(), new.state_dict()
    assert np.array_equal(after["layers.0.weight"], before["layers.0.weight"])
    assert np.array_equal(after["layers.3.weight"], before["layers.2.weight"])
    assert np.array_equal(after["layers.5.weight"], fresh["layers.5.weight"])
    assert new.metadata["epochs"] == 3
