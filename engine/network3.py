"""Michael Nielsen's network3.py API over the ConvScope engine, so a network3 script runs here (and
on the GPU) by changing its import::

    from engine.network3 import Network, ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, ReLU
    training_data, validation_data, test_data = load_data_shared()
    net = Network([ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5),
                                 poolsize=(2, 2), activation_fn=ReLU),
                   FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100, activation_fn=ReLU),
                   SoftmaxLayer(n_in=100, n_out=10)], 10)
    net.SGD(training_data, 60, 10, 0.03, validation_data, test_data, lmbda=0.1)

The layers only describe a spec; the engine's Network (init "network3": the same Gaussian weights
and biases, zero softmax) does the work, and `SGD` is one call to the engine's `fit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.backend import Backend
from engine.data import BUILTIN, load_dataset
from engine.network import Network as EngineNetwork
from engine.optim import SGD
from engine.spec import shape_text
from engine.training import BatchInfo, Callback, EpochInfo, fit

# -- activations: callable like network3's, and mapped by identity to the engine's names --------


def sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


def tanh(z: Any) -> Any:
    return np.tanh(z)


def ReLU(z: Any) -> Any:
    return np.maximum(0.0, z)


def linear(z: Any) -> Any:
    return z


_ACTIVATIONS = {sigmoid: "sigmoid", tanh: "tanh", ReLU: "relu", linear: "linear"}


def _activation(fn: Any) -> str:
    if fn in _ACTIVATIONS:
        return _ACTIVATIONS[fn]
    if isinstance(fn, str) and fn in _ACTIVATIONS.values():
        return fn
    raise ValueError(
        f"activation_fn must be one of sigmoid, tanh, ReLU or linear from engine.network3, got {fn!r}"
    )


# -- layers ---------------------------------------------------------------------------------------


class ConvPoolLayer:
    """A convolution followed by max pooling, as network3's.

    network3 adds the bias after pooling, act(maxpool(w∗x) + b); the engine computes
    maxpool(act(w∗x + b)). These are equal: b is one constant per feature map, so it commutes with
    the max, and the activations are monotone (non-decreasing), so they commute with it too.
    """

    def __init__(
        self,
        filter_shape: Sequence[int],
        image_shape: Sequence[int],
        poolsize: Sequence[int] = (2, 2),
        activation_fn: Any = sigmoid,
    ):
        if len(filter_shape) != 4 or len(image_shape) != 4:
            raise ValueError(
                "ConvPoolLayer: filter_shape is (filters, input maps, height, width) and image_shape "
                f"(mini-batch, input maps, height, width), got {tuple(filter_shape)} and {tuple(image_shape)}"
            )
        self.filter_shape = tuple(int(v) for v in filter_shape)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.poolsize = tuple(int(v) for v in poolsize)
        self.activation_fn = activation_fn
        if self.filter_shape[1] != self.image_shape[1]:
            raise ValueError(
                f"ConvPoolLayer: filter_shape has {self.filter_shape[1]} input maps but image_shape "
                f"has {self.image_shape[1]}"
            )
        if len(self.poolsize) != 2:
            raise ValueError(f"ConvPoolLayer: poolsize is (height, width), got {self.poolsize}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.image_shape[1:]

    @property
    def output_shape(self) -> tuple[int, ...]:
        f, _, fh, fw = self.filter_shape
        _, _, h, w = self.image_shape
        ph, pw = self.poolsize
        return (f, (h - fh + 1) // ph, (w - fw + 1) // pw)

    def spec_layers(self) -> list[dict[str, Any]]:
        f, _, fh, fw = self.filter_shape
        conv = {
            "type": "conv",
            "filters": f,
            "kernel": [fh, fw],
            "activation": _activation(self.activation_fn),
        }
        return [conv, {"type": "pool", "mode": "max", "size": list(self.poolsize)}]


class FullyConnectedLayer:
    """network3's dense layer; dropout drops its inputs in training, as network3's does (the
    engine's inverted dropout scales in training instead of at inference: the same expectation)."""

    def __init__(self, n_in: int, n_out: int, activation_fn: Any = sigmoid, p_dropout: float = 0.0):
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation_fn = activation_fn
        self.p_dropout = float(p_dropout)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.n_out,)

    def spec_layers(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "dense",
                "units": self.n_out,
                "activation": _activation(self.activation_fn),
                "dropout": self.p_dropout,
            }
        ]


class SoftmaxLayer:
    """The log-likelihood output layer; `n_out` becomes the spec's `classes`."""

    def __init__(self, n_in: int, n_out: int, p_dropout: float = 0.0):
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.p_dropout = float(p_dropout)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.n_out,)

    def spec_layers(self) -> list[dict[str, Any]]:
        return [{"type": "softmax", "dropout": self.p_dropout}]


Layer = ConvPoolLayer | FullyConnectedLayer | SoftmaxLayer


def _shape_words(shape: tuple[int, ...]) -> str:
    return shape_text(shape) + (f" = {math.prod(shape)}" if len(shape) > 1 else "")


def to_spec(layers: Sequence[Layer]) -> dict[str, Any]:
    """The engine spec equivalent to a network3 layer list, with its shapes checked in network3's
    terms (n_in, image_shape) so a mistake is named the way the script wrote it."""
    if not layers or not isinstance(layers[-1], SoftmaxLayer):
        raise ValueError("network3 Network: the last layer must be a SoftmaxLayer")
    first = layers[0]
    if isinstance(first, ConvPoolLayer):
        input_shape = first.input_shape
    elif isinstance(first, FullyConnectedLayer | SoftmaxLayer):
        input_shape = (1, 1, first.n_in)  # flat inputs; dense layers flatten anyway
    else:
        raise ValueError(f"network3 Network: unknown layer {first!r}")
    shape: tuple[int, ...] = input_shape
    spec_layers: list[dict[str, Any]] = []
    for i, layer in enumerate(layers):
        name = type(layer).__name__
        if isinstance(layer, SoftmaxLayer) and i != len(layers) - 1:
            raise ValueError(f"network3 Network: layer {i} (SoftmaxLayer) must be the last layer")
        if isinstance(layer, ConvPoolLayer):
            if layer.input_shape != shape:
                raise ValueError(
                    f"network3 Network: layer {i} (ConvPoolLayer) has image_shape maps×height×width "
                    f"{_shape_words(layer.input_shape)} but the previous layer outputs {_shape_words(shape)}"
                )
        elif isinstance(layer, FullyConnectedLayer | SoftmaxLayer):
            if layer.n_in != math.prod(shape):
                raise ValueError(
                    f"network3 Network: layer {i} ({name}) has n_in={layer.n_in} but its input is "
                    f"{_shape_words(shape)} values"
                )
        else:
            raise ValueError(f"network3 Network: unknown layer {layer!r}")
        spec_layers += layer.spec_layers()
        shape = layer.output_shape
    return {"input": list(input_shape), "classes": layers[-1].n_out, "layers": spec_layers}


# -- the network ----------------------------------------------------------------------------------


class _Report(Callback):
    """network3's progress messages, from the engine's callbacks."""

    def __init__(self, net: Network, batches: int, test_data: Any):
        self.net, self.batches, self.test_data = net, batches, test_data
        self.best = 0.0
        self.best_iteration = 0
        self.test_accuracy: float | None = None

    def on_batch_end(self, info: BatchInfo) -> None:
        iteration = info.step - 1
        if iteration % 1000 == 0:
            print(f"Training mini-batch number {iteration}")

    def on_epoch_end(self, info: EpochInfo) -> None:
        if info.val_acc is None:
            return
        print(f"Epoch {info.epoch - 1}: validation accuracy {info.val_acc:.2%}")
        if info.val_acc >= self.best:
            print("This is the best validation accuracy to date.")
            self.best = info.val_acc
            self.best_iteration = info.epoch * self.batches - 1
            if self.test_data is not None:
                self.test_accuracy = self.net.accuracy(self.test_data)
                print(f"The corresponding test accuracy is {self.test_accuracy:.2%}")


class Network:
    """network3's `Network(layers, mini_batch_size)`, backed by an engine network.

    `image_shape[0]` and `mini_batch_size` need not agree here (the engine takes any batch size);
    `seed` and `device` are additions: network3 draws unseeded and runs where Theano is set up.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        mini_batch_size: int,
        *,
        seed: int = 0,
        device: str | Backend | None = None,
    ):
        self.layers = list(layers)
        self.mini_batch_size = int(mini_batch_size)
        self.spec = to_spec(self.layers)
        self.net = EngineNetwork(self.spec, seed=seed, device=device, init="network3")
        self.optimizer: SGD | None = None

    @property
    def params(self) -> dict[str, Any]:
        return self.net.params

    def _shaped(self, data: Any) -> tuple[Any, Any]:
        """network3's flat (N, 784) images as the engine's (N, C, H, W), on the network's device:
        NumPy arrays are copied there once, arrays already there stay."""
        x, y = data
        backend = self.net.backend
        x = backend.to_device(x, dtype=np.float32)
        return x.reshape(len(x), *self.net.input_shape), backend.to_device(y, dtype=np.int64)

    def accuracy(self, data: Any) -> float:
        return self.net.evaluate(self._shaped(data))[1]

    def SGD(
        self,
        training_data: Any,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        validation_data: Any = None,
        test_data: Any = None,
        lmbda: float = 0.0,
    ) -> float | None:
        """Plain mini-batch SGD, printing as network3 does; returns the best validation accuracy.

        network3's cost adds 0.5·lmbda·‖w‖²/num_training_batches, so the engine's L2 is
        lmbda/num_training_batches on weights (not biases), as there. Unlike network3, the last
        partial mini-batch is trained on, not dropped.
        """
        train = self._shaped(training_data)
        validation = self._shaped(validation_data) if validation_data is not None else None
        test = self._shaped(test_data) if test_data is not None else None
        num_training_batches = max(len(train[0]) // mini_batch_size, 1)
        if self.optimizer is None:
            self.optimizer = SGD(lr=eta, momentum=0.0, l2=lmbda / num_training_batches)
        else:  # a second call continues training, as with network3's shared variables
            self.optimizer.lr, self.optimizer.l2 = float(eta), lmbda / num_training_batches
        report = _Report(self, math.ceil(len(train[0]) / mini_batch_size), test)
        fit(
            self.net,
            train,
            epochs=epochs,
            batch_size=mini_batch_size,
            optimizer=self.optimizer,
            validation=validation,
            callbacks=[report],
        )
        print("Finished training network.")
        if validation is None:
            return None
        print(f"Best validation accuracy of {report.best:.2%} obtained at iteration {report.best_iteration}")
        if report.test_accuracy is not None:
            print(f"Corresponding test accuracy of {report.test_accuracy:.2%}")
        return report.best


def load_data_shared(
    filename: str = BUILTIN, validation_size: int = 500
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(training, validation, test) as network3's loader gives them: (x flat (N, H·W) float32 in
    [0, 1], y int64). The validation images are the last `validation_size` of the training split,
    so the test split stays unseen. Default: the built-in mnist-5k (3,500 / 500 / 1,000)."""
    data = load_dataset(filename)
    x, y = data.train
    if not 0 < validation_size < len(x):
        raise ValueError(f"validation_size must be between 1 and {len(x) - 1}, got {validation_size}")
    flat = x.reshape(len(x), -1)
    cut = len(x) - validation_size
    test_x, test_y = data.test
    return (flat[:cut], y[:cut]), (flat[cut:], y[cut:]), (test_x.reshape(len(test_x), -1), test_y)


__all__ = [
    "ConvPoolLayer",
    "FullyConnectedLayer",
    "Network",
    "ReLU",
    "SoftmaxLayer",
    "linear",
    "load_data_shared",
    "sigmoid",
    "tanh",
    "to_spec",
]
