"""engine.network3: network3.py scripts run on the engine, and translate to the expected spec."""

import numpy as np
import pytest
from strict_backend import STRICT

from engine import Network as EngineNetwork
from engine.errors import WeightFileError
from engine.network3 import (
    ConvPoolLayer,
    FullyConnectedLayer,
    Network,
    ReLU,
    SoftmaxLayer,
    linear,
    load_data_shared,
    sigmoid,
    tanh,
    to_spec,
)
from engine.spec import default_spec, normalize
from engine.weights import save


@pytest.fixture(scope="module")
def shared_data():
    """network3's (training, validation, test) tuples of the built-in sample."""
    return load_data_shared()


def test_load_data_shared_gives_flat_network3_tuples(shared_data):
    (tx, ty), (vx, vy), (sx, sy) = shared_data
    assert tx.shape == (3500, 784) and vx.shape == (500, 784) and sx.shape == (1000, 784)
    assert tx.dtype == np.float32 and 0 <= tx.min() and tx.max() <= 1
    assert ty.shape == (3500,) and vy.shape == (500,) and sy.shape == (1000,)


def test_network3_script_trains(shared_data, capsys):
    training_data, validation_data, test_data = shared_data
    mini_batch_size = 10
    net = Network(
        [
            ConvPoolLayer(
                image_shape=(mini_batch_size, 1, 28, 28),
                filter_shape=(8, 1, 5, 5),
                poolsize=(2, 2),
                activation_fn=ReLU,
            ),
            FullyConnectedLayer(n_in=8 * 12 * 12, n_out=30, activation_fn=ReLU),
            SoftmaxLayer(n_in=30, n_out=10),
        ],
        mini_batch_size,
    )
    validation = (validation_data[0][:300], validation_data[1][:300])
    before = net.accuracy(validation)
    training = (training_data[0][:600], training_data[1][:600])
    best = net.SGD(training, 2, mini_batch_size, 0.03, validation, (test_data[0][:300], test_data[1][:300]))

    out = capsys.readouterr().out
    assert "Epoch 0: validation accuracy" in out and "Epoch 1: validation accuracy" in out
    assert "This is the best validation accuracy to date." in out
    assert "The corresponding test accuracy is" in out and "Finished training network." in out
    assert f"Best validation accuracy of {best:.2%} obtained at iteration" in out
    assert best > 0.4 and best > before + 0.25  # chance is 0.1


def test_chapter_6_network_translates_to_the_default_spec():
    mbs = 10
    layers = [
        ConvPoolLayer(image_shape=(mbs, 1, 28, 28), filter_shape=(20, 1, 5, 5), activation_fn=ReLU),
        ConvPoolLayer(image_shape=(mbs, 20, 12, 12), filter_shape=(40, 20, 5, 5), activation_fn=ReLU),
        FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
        SoftmaxLayer(n_in=100, n_out=10),
    ]
    assert normalize(to_spec(layers)) == normalize(default_spec())
    net = Network(layers, mbs)
    assert net.net.init == "network3"
    assert [p.name for p in net.params] == list(EngineNetwork(default_spec()).params)
    assert [p.get_value().shape for p in net.params] == [
        (20, 1, 5, 5), (20,), (40, 20, 5, 5), (40,), (640, 100), (100,), (100, 10), (10,)
    ]


def test_rectangular_poolsize_builds_and_trains(shared_data):
    layers = [
        ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(4, 1, 5, 5), poolsize=(2, 3)),
        SoftmaxLayer(n_in=4 * 12 * 8, n_out=10),
    ]
    net = Network(layers, 10)
    assert net.spec["layers"][1]["size"] == [2, 3]
    training, validation, _ = shared_data
    assert net.SGD((training[0][:40], training[1][:40]), 1, 10, 0.1, validation) is not None


def test_activations_dropout_and_pool_size_translate():
    spec = to_spec(
        [
            ConvPoolLayer((6, 3, 3, 5), (1, 3, 16, 16), poolsize=(3, 3)),
            FullyConnectedLayer(6 * 4 * 4, 20, activation_fn=tanh, p_dropout=0.5),
            FullyConnectedLayer(20, 10, activation_fn=linear),
            SoftmaxLayer(10, 4, p_dropout=0.25),
        ]
    )
    assert spec == {
        "input": [3, 16, 16],
        "classes": 4,
        "layers": [
            {"type": "conv", "filters": 6, "kernel": [3, 5], "activation": "sigmoid"},
            {"type": "pool", "mode": "max", "size": [3, 3]},
            {"type": "dense", "units": 20, "activation": "tanh", "dropout": 0.5},
            {"type": "dense", "units": 10, "activation": "linear", "dropout": 0.0},
            {"type": "softmax", "dropout": 0.25},
        ],
    }


def test_fully_connected_first_network_takes_flat_inputs(shared_data):
    net = Network([FullyConnectedLayer(784, 30), SoftmaxLayer(30, 10)], 10)
    assert net.spec["input"] == [1, 1, 784]
    training, validation, _ = shared_data
    assert net.SGD((training[0][:50], training[1][:50]), 1, 10, 0.5, validation) is not None


@pytest.mark.parametrize("act", [sigmoid, ReLU, tanh])
def test_bias_after_pooling_equals_bias_before_activation(act):
    """network3's act(maxpool(w∗x) + b) equals the engine's maxpool(act(w∗x + b))."""
    layer = ConvPoolLayer((4, 2, 3, 3), (1, 2, 9, 9), activation_fn=act)
    net = Network([layer, FullyConnectedLayer(4 * 3 * 3, 5), SoftmaxLayer(5, 3)], 1, seed=1)
    plain = EngineNetwork(
        {**net.spec, "layers": [dict(net.spec["layers"][0], activation="linear")] + net.spec["layers"][1:]}
    )
    state = net.net.state_dict()
    plain.load_state_dict({**state, "layers.0.bias": np.zeros_like(state["layers.0.bias"])})
    x = np.random.default_rng(0).normal(size=(3, 2, 9, 9)).astype(np.float32)
    pooled = plain.feature_maps(x)[1]
    b = state["layers.0.bias"].reshape(1, -1, 1, 1)
    np.testing.assert_allclose(net.net.feature_maps(x)[1], act(pooled + b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [
                ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28)),
                FullyConnectedLayer(20 * 13 * 13, 10),
                SoftmaxLayer(10, 10),
            ],
            "layer 1 (FullyConnectedLayer) has n_in=3380 but its input is 20×12×12 = 2880 values",
        ),
        (
            [ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28)), ConvPoolLayer((40, 20, 5, 5), (10, 20, 14, 14))],
            "the last layer must be a SoftmaxLayer",
        ),
        (
            [
                ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28)),
                ConvPoolLayer((40, 20, 5, 5), (10, 20, 14, 14)),
                SoftmaxLayer(40 * 5 * 5, 10),
            ],
            "layer 1 (ConvPoolLayer) has image_shape maps×height×width 20×14×14 = 3920 but the previous "
            "layer outputs 20×12×12 = 2880",
        ),
        ([FullyConnectedLayer(784, 30), SoftmaxLayer(31, 10)], "layer 1 (SoftmaxLayer) has n_in=31"),
        ([SoftmaxLayer(784, 10), SoftmaxLayer(10, 10)], "layer 0 (SoftmaxLayer) must be the last layer"),
    ],
)
def test_shape_mistakes_are_named(layers, message):
    with pytest.raises(ValueError, match="network3 Network: ") as info:
        Network(layers, 10)
    assert message in str(info.value)


def test_layer_argument_mistakes():
    with pytest.raises(ValueError, match="filter_shape has 3 input maps but image_shape has 1"):
        ConvPoolLayer((20, 3, 5, 5), (10, 1, 28, 28))
    with pytest.raises(ValueError, match=r"poolsize is \(height, width\)"):
        ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), poolsize=(2, 3, 1))
    with pytest.raises(ValueError, match="FullyConnectedLayer: .* carries its derivative as fn.derivative"):
        FullyConnectedLayer(784, 30, activation_fn=np.exp)

    def softplus(z):
        return np.logaddexp(0, z)

    softplus.derivative = sigmoid
    with pytest.raises(ValueError, match="ConvPoolLayer: activation_fn must be sigmoid, tanh, ReLU"):
        ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), activation_fn=softplus)
    spec = to_spec([FullyConnectedLayer(784, 30, activation_fn=softplus), SoftmaxLayer(30, 10)])
    assert spec["layers"][0]["activation"].fn is softplus


def test_a_network_with_a_custom_activation_is_not_written_to_a_weight_file(tmp_path):
    def softsign(z):
        return z / (1 + np.abs(z))

    softsign.derivative = lambda z: 1 / (1 + np.abs(z)) ** 2
    net = Network([FullyConnectedLayer(784, 30, activation_fn=softsign), SoftmaxLayer(30, 10)], 10)
    with pytest.raises(WeightFileError, match="the activation softsign is Python code"):
        save(net.net, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def test_activation_functions_compute_like_network3s():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(ReLU(z), [0, 0, 3])
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(tanh(z), np.tanh(z))
    np.testing.assert_allclose(linear(z), z)


def test_device_arrays_stay_on_the_device(shared_data):
    """Scripts may hand network3's API arrays already on the GPU; the strict backend refuses any
    host round trip CuPy would refuse, and the activations dispatch like NumPy ufuncs."""
    net = Network([FullyConnectedLayer(784, 30), SoftmaxLayer(30, 10)], 10, device=STRICT)
    training, validation, _ = shared_data
    on_device = [(STRICT.to_device(x[:60]), STRICT.to_device(y[:60])) for x, y in (training, validation)]
    assert net.SGD(on_device[0], 1, 10, 0.5, on_device[1]) is not None
    assert 0.0 <= net.accuracy(on_device[1]) <= 1.0
