"""Michael Nielsen's network3.py over the ConvScope engine: a script written for it (the book's
`conv.py`, say) runs here, and on the GPU, by changing its import lines only::

    import engine.network3 as network3
    from engine.network3 import sigmoid, tanh, ReLU, Network
    from engine.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer

and computes what network3 computes: true convolution, the bias added after pooling, network3's
dropout (inputs dropped unscaled in training, (1 − p)·x·w at inference), mini-batches in file
order with the last partial one dropped, L2 divided by the number of training batches,
accuracy as the mean over whole mini-batches, and Theano's max-pool gradient (every maximum of
a window gets it; the bias, added after pooling, once per window). Its data are the book's
`mnist.pkl.gz`, read through the one restricted unpickler.

The layers only describe a spec; the engine's Network (init "network3": the same Gaussian
weights and biases, zero softmax) does the work, and `SGD` is one call to the engine's `fit`. The
engine cross-correlates, stores dense weights (out, in) and scales dropout at training time
instead; `layer.w` presents and accepts the weights as network3 has them, and the engine's
weights are their exact reparametrisation (see `Network`).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine import unpickle
from engine.activations import Custom
from engine.backend import Backend
from engine.bounded_io import INFLATE_ERRORS, gunzip, is_gzip, open_regular
from engine.data import BUILTIN, load_dataset
from engine.errors import DataError, clip
from engine.limits import check_data, current
from engine.network import Network as EngineNetwork
from engine.optim import SGD
from engine.spec import param_name, shape_text
from engine.training import BatchInfo, Callback, EpochInfo, fit
from engine.wording import plural

#: Where network3's `load_data_shared()` looks by default, relative to the working directory.
BOOK_DATA = "../data/mnist.pkl.gz"

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
_NAMES = "sigmoid, tanh, ReLU or linear from engine.network3"


def _activation(fn: Any, where: str, custom: bool) -> str | Custom:
    """The engine's activation for network3's `activation_fn`: one of network3's four, or where
    `custom`, any function that carries its derivative (of z) as `fn.derivative`."""
    if fn in _ACTIVATIONS:
        return _ACTIVATIONS[fn]
    if isinstance(fn, str) and fn in _ACTIVATIONS.values():
        return fn
    if not custom:
        raise ValueError(
            f"{where}: activation_fn must be {_NAMES}, got {fn!r}: the engine applies it before "
            "pooling, which gives network3's result for these non-decreasing functions only"
        )
    if callable(fn) and callable(getattr(fn, "derivative", None)):
        return Custom(fn, fn.derivative)
    raise ValueError(
        f"{where}: activation_fn must be {_NAMES}, or a function that carries its derivative as "
        f"fn.derivative (e.g. fn.derivative = lambda z: 1 - np.tanh(z) ** 2), got {fn!r}"
    )


# -- Theano's shared variables, as read-only NumPy shims ---------------------------------------


class SharedArray(np.ndarray):
    """A data array as `load_data_shared` returns it: a read-only NumPy array that also answers
    Theano's `.eval()` and `.get_value()` (each a plain NumPy copy), as the book's helpers call."""

    def eval(self, givens: Any = None) -> np.ndarray:
        return np.array(self)

    def get_value(self, borrow: bool = False) -> np.ndarray:
        return np.asarray(self) if borrow else np.array(self)


def _shared(a: np.ndarray, dtype: Any) -> SharedArray:
    out = np.ascontiguousarray(a, dtype=dtype).view(SharedArray)
    out.flags.writeable = False
    return out


def size(data: Any) -> int:
    """The number of images in `data`, as network3's `size`."""
    return len(data[0])


class Parameter:
    """`layer.w` or `layer.b`: the engine's parameter as network3 lays it out. `get_value()` and
    `eval()` return a NumPy copy; `set_value()` writes network3's layout back into the engine."""

    def __init__(self, net: Network, name: str, to_network3: Callable, from_network3: Callable):
        self._net, self.name = net, name
        self._to, self._from = to_network3, from_network3

    def get_value(self, borrow: bool = False) -> np.ndarray:
        engine = self._net.net
        return np.array(self._to(engine.backend.to_host(engine.params[self.name])))

    eval = get_value

    def set_value(self, value: Any, borrow: bool = False) -> None:
        engine = self._net.net
        current = engine.params[self.name]
        new = self._from(np.asarray(value, dtype=np.float64))
        if new.shape != current.shape:
            raise ValueError(
                f"{self.name}: network3's layout is {shape_text(self.get_value().shape)}, "
                f"got {shape_text(np.shape(value))}"
            )
        current[...] = engine.backend.to_device(new, dtype=engine.dtype)

    def __repr__(self) -> str:
        return f"<network3 parameter {self.name} {shape_text(self.get_value().shape)}>"


class Input:
    """`net.x`: the network's input, to be given in `output.eval({net.x: images})`."""

    def __repr__(self) -> str:
        return "<network3 input x>"


class Output:
    """`layer.output` / `layer.y_out`: that layer's inference output (or its argmax) for the
    images given as `eval({net.x: images})`, as a NumPy array."""

    def __init__(self, net: Network, index: int, argmax: bool):
        self._net, self._index, self._argmax = net, index, argmax

    def eval(self, givens: dict[Any, Any] | None = None) -> np.ndarray:
        if not givens or self._net.x not in givens:
            raise ValueError("give the images to compute on: output.eval({net.x: images})")
        x = self._net._images(givens[self._net.x])
        out = self._net.net.feature_maps(x)[self._index]
        return out.argmax(axis=1) if self._argmax else out


# -- layers ---------------------------------------------------------------------------------------


class _Layer:
    """What network3's layers share once in a Network: `w`, `b`, `params`, `output`."""

    p_dropout = 0.0

    def _bind(self, net: Network, first: int, last: int) -> None:
        keep = 1.0 - self.p_dropout
        if isinstance(self, ConvPoolLayer):
            to3 = from3 = _flip
        else:  # the engine's w is keep·(network3's w)ᵀ, exactly: see Network

            def to3(w: np.ndarray) -> np.ndarray:
                return w.T / keep

            def from3(w: np.ndarray) -> np.ndarray:
                return w.T * keep

        self.w = Parameter(net, param_name(first, "weight"), to3, from3)
        self.b = Parameter(net, param_name(first, "bias"), _same, _same)
        self.params = [self.w, self.b]
        self.output = Output(net, last, argmax=False)
        if not isinstance(self, ConvPoolLayer):
            self.y_out = Output(net, last, argmax=True)


def _flip(w: np.ndarray) -> np.ndarray:
    """Theano's conv2d is a true convolution: its kernel is the engine's, flipped both ways."""
    return w[..., ::-1, ::-1]


def _same(b: np.ndarray) -> np.ndarray:
    return b


class ConvPoolLayer(_Layer):
    """A convolution followed by max pooling, as network3's.

    network3 adds the bias after pooling, act(maxpool(w∗x) + b); the engine computes
    maxpool(act(w∗x + b)). These are equal: b is one constant per feature map, so it commutes with
    the max, and network3's four activations are non-decreasing, so they commute with it too (a
    custom one need not: it is offered on FullyConnectedLayer only).
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
        self.activation = _activation(activation_fn, "ConvPoolLayer", custom=False)
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
        conv = {"type": "conv", "filters": f, "kernel": [fh, fw], "activation": self.activation}
        return [conv, {"type": "pool", "mode": "max", "size": list(self.poolsize)}]


class FullyConnectedLayer(_Layer):
    """network3's dense layer; `p_dropout` drops its inputs in training, as network3's does."""

    def __init__(self, n_in: int, n_out: int, activation_fn: Any = sigmoid, p_dropout: float = 0.0):
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.activation_fn = activation_fn
        self.activation = _activation(activation_fn, "FullyConnectedLayer", custom=True)
        self.p_dropout = float(p_dropout)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.n_out,)

    def spec_layers(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "dense",
                "units": self.n_out,
                "activation": self.activation,
                "dropout": self.p_dropout,
            }
        ]


class SoftmaxLayer(_Layer):
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


class _Network3SGD(SGD):
    """Plain SGD on network3's parameters, carried out on the engine's reparametrised ones.

    A layer with dropout p keeps w_e = k·w (k = 1 − p), so network3's step w −= η(∂C/∂w + λ'w)
    is w_e −= η(k²·∂C/∂w_e + λ'·w_e): the gradient scaled by k², the decay as it is."""

    def __init__(self, lr: float, l2: float, scales: dict[str, float]):
        super().__init__(lr=lr, momentum=0.0, l2=l2)
        self.scales = scales

    def update(
        self, params: dict[str, Any], grads: dict[str, Any], lr: Any = None, fused: Any = None
    ) -> None:
        """The step on the scaled gradients, through the backend's fused kernels where it has them."""
        scaled = {k: g * self.scales[k] if k in self.scales else g for k, g in grads.items()}
        super().update(params, scaled, lr, fused)


class _Report(Callback):
    """network3's progress messages and its per-call counting: epochs and iterations start at 0
    in every SGD call, and accuracy is taken over whole mini-batches."""

    def __init__(self, net: Network, batches: int, validation: Any, test: Any):
        self.net, self.batches = net, batches
        self.validation, self.test = validation, test
        self.first = int(net.net.metadata.get("epochs", 0))
        self.best = 0.0
        self.best_iteration: int | None = None
        self.test_accuracy: float | None = None

    def on_batch_end(self, info: BatchInfo) -> None:
        iteration = self.batches * (info.epoch - 1 - self.first) + info.batch - 1
        if iteration % 1000 == 0:
            print(f"Training mini-batch number {iteration}")

    def on_epoch_end(self, info: EpochInfo) -> None:
        if self.validation is None:
            return
        epoch = info.epoch - 1 - self.first
        accuracy = self.net._score(self.validation)
        print(f"Epoch {epoch}: validation accuracy {accuracy:.2%}")
        if accuracy >= self.best:
            print("This is the best validation accuracy to date.")
            self.best = accuracy
            self.best_iteration = self.batches * (epoch + 1) - 1
            if self.test is not None:
                self.test_accuracy = self.net._score(self.test)
                print(f"The corresponding test accuracy is {self.test_accuracy:.2%}")


class Network:
    """network3's `Network(layers, mini_batch_size)`, backed by an engine network.

    Where a dense or softmax layer has dropout p, the engine (inverted dropout: inputs scaled by
    1/k in training, k = 1 − p) holds k·w for network3's w. Training then computes x·mask·w and
    inference k·x·w, network3's own; `_Network3SGD` makes each step network3's step.

    `image_shape[0]` need not equal `mini_batch_size` (the engine takes any batch size); `seed`,
    `device` and `dtype` are additions: network3 draws unseeded, runs where Theano is set up and
    computes in Theano's floatX (float32 on the GPU).
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        mini_batch_size: int,
        *,
        seed: int = 0,
        device: str | Backend | None = None,
        dtype: Any = np.float32,
    ):
        self.layers = list(layers)
        self.mini_batch_size = int(mini_batch_size)
        self.spec = to_spec(self.layers)
        self.net = EngineNetwork(self.spec, seed=seed, device=device, init="network3", dtype=dtype)
        self.net.send_ties_to_every_maximum()
        self.x = Input()
        self._scales: dict[str, float] = {}
        first = 0
        for layer in self.layers:
            last = first + len(layer.spec_layers()) - 1
            layer._bind(self, first, last)
            keep = 1.0 - layer.p_dropout
            if keep != 1.0:
                # The engine drew network3's w; it holds k·w (see above).
                self.net.params[layer.w.name] *= keep
                self._scales[layer.w.name] = keep * keep
            first = last + 1
        self.params = [p for layer in self.layers for p in layer.params]

    def _images(self, x: Any) -> Any:
        """network3's flat (N, 784) images as the engine's (N, C, H, W), on the network's device:
        NumPy arrays are copied there once, arrays already there stay."""
        backend = self.net.backend
        x = backend.to_device(x, dtype=self.net.dtype)
        if math.prod(x.shape[1:]) != math.prod(self.net.input_shape):
            raise DataError(
                f"the images have {math.prod(x.shape[1:])} values each, but the network's first layer "
                f"takes {_shape_words(self.net.input_shape)}"
            )
        return x.reshape(len(x), *self.net.input_shape)

    def _shaped(self, data: Any, batches: int | None = None) -> tuple[Any, Any]:
        """(images, labels) on the device; with `batches`, only that many whole mini-batches of
        the network's mini_batch_size, as network3 slices them."""
        x, y = data
        if batches is not None:
            n = batches * self.mini_batch_size
            if n > len(x):
                raise ValueError(
                    f"network3 SGD: {plural(batches, 'mini-batch')} of "
                    f"{self.mini_batch_size} take {plural(n, 'image')}, the data have {len(x)}"
                )
            x, y = x[:n], y[:n]
        return self._images(x), self.net.backend.to_device(y, dtype=np.int64)

    def _score(self, data: tuple[Any, Any]) -> float:
        return self.net.evaluate(data)[1]

    def accuracy(self, data: Any) -> float:
        """The share of `data` classified right (every image, not whole mini-batches only)."""
        return self._score(self._shaped(data))

    def SGD(
        self,
        training_data: Any,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        validation_data: Any = None,
        test_data: Any = None,
        lmbda: float = 0.0,
        *,
        shuffle: bool = False,
    ) -> float | None:
        """network3's mini-batch SGD; returns the best validation accuracy (network3: None).

        As network3: mini-batches in file order (`shuffle=True` draws a new order each epoch),
        `size // mini_batch_size` of them, the last partial one dropped; the cost adds
        0.5·lmbda·‖w‖²/num_training_batches over every layer's w; validation and test accuracy
        are the mean over their whole mini-batches; epochs and iterations count from 0 in each
        call, and the weights carry over from the last.
        """
        num_training_batches = size(training_data) // mini_batch_size
        if num_training_batches < 1:
            raise ValueError(
                f"network3 SGD: {size(training_data)} training images make no whole mini-batch of "
                f"{mini_batch_size}"
            )
        train = self._shaped(training_data, num_training_batches)
        validation = test = None
        if validation_data is not None:
            validation = self._shaped(validation_data, size(validation_data) // mini_batch_size)
        if test_data is not None:
            test = self._shaped(test_data, size(test_data) // mini_batch_size)
            self.test_mb_predictions = self._mb_predictions(test[0])
        optimizer = _Network3SGD(eta, lmbda / num_training_batches, self._scales)
        report = _Report(self, num_training_batches, validation, test)
        fit(
            self.net,
            train,
            epochs=epochs,
            batch_size=self.mini_batch_size,
            optimizer=optimizer,
            callbacks=[report],
            shuffle=shuffle,
        )
        print("Finished training network.")
        if validation is None:
            return None
        print(f"Best validation accuracy of {report.best:.2%} obtained at iteration {report.best_iteration}")
        if report.test_accuracy is not None:
            print(f"Corresponding test accuracy of {report.test_accuracy:.2%}")
        return report.best

    def _mb_predictions(self, x: Any) -> Callable[[int], np.ndarray]:
        """network3's `test_mb_predictions(i)`: the predicted labels of test mini-batch i."""

        def predictions(i: int) -> np.ndarray:
            mbs = self.mini_batch_size
            return self.net.predict(x[i * mbs : (i + 1) * mbs])

        return predictions


# -- data -----------------------------------------------------------------------------------------


def load_data_shared(
    filename: str | os.PathLike[str] = BOOK_DATA, validation_size: int = 500
) -> list[tuple[SharedArray, SharedArray]]:
    """[training, validation, test], each (x, y): x flat (N, H·W) float32, y int32, as network3's.

    A `.pkl.gz` (or `.pkl`) file is the book's format, read through the restricted unpickler.
    Without `filename`, network3's `../data/mnist.pkl.gz`; when that file is absent, the built-in
    sample stands in, as one printed line says. Any other source is an engine data set
    (`load_dataset`), whose last `validation_size` training images become the validation split.
    """
    path = os.fspath(filename)
    if path.endswith((".pkl.gz", ".pkl")):
        if path == BOOK_DATA and not os.path.exists(path):
            splits = _from_dataset(BUILTIN, validation_size)
            n_train, n_val, n_test = (size(split) for split in splits)
            print(
                f"network3: {BOOK_DATA} not found, so the built-in {BUILTIN} stands in: the first "
                f"{n_train:,} images of its training split train, the last {n_val:,} validate, and "
                f"its {n_test:,} test images test"
            )
            return splits
        return _from_pickle(path)
    return _from_dataset(path, validation_size)


def _from_dataset(source: str, validation_size: int) -> list[tuple[SharedArray, SharedArray]]:
    data = load_dataset(source)
    x, y = data.train
    if not 0 < validation_size < len(x):
        raise ValueError(f"validation_size must be between 1 and {len(x) - 1}, got {validation_size}")
    cut = len(x) - validation_size
    test_x, test_y = data.test
    splits = [(x[:cut], y[:cut]), (x[cut:], y[cut:]), (test_x, test_y)]
    return [(_shared(sx.reshape(len(sx), -1), np.float32), _shared(sy, np.int32)) for sx, sy in splits]


def _from_pickle(path: str) -> list[tuple[SharedArray, SharedArray]]:
    """The book's format: a (gzipped) pickle of ((x, y), (x, y), (x, y)), x (N, 784) float32 in
    [0, 1] and y int64, written by Python 2. Read as a regular file, gzip recognised by its
    content, and inflated no further than the data limit, before anything is unpickled."""
    limit = current().max_data_bytes
    with open_regular(path, DataError, "data file") as f:
        stream = gunzip(f) if is_gzip(f) else f
        try:
            raw = stream.read(limit + 1)
        except INFLATE_ERRORS as exc:
            raise DataError(f"{path}: is a damaged gzip file ({clip(exc, 200)})") from None
    check_data(len(raw), f"{path}, inflated as far as the limit," if len(raw) > limit else path)
    content = unpickle.load(io.BytesIO(raw), path)
    names = ("training", "validation", "test")
    if not (isinstance(content, tuple | list) and len(content) == 3):
        raise DataError(f"{path}: expected (training, validation, test) splits, got {type(content).__name__}")
    splits = []
    for name, split in zip(names, content, strict=True):
        if not (isinstance(split, tuple | list) and len(split) == 2):
            raise DataError(f"{path}: the {name} split is not an (images, labels) pair")
        x, y = split
        if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind in "fiu"):
            raise DataError(f"{path}: the {name} images are not an (N, pixels) array of numbers")
        if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and len(y) == len(x)):
            raise DataError(f"{path}: the {name} labels are not {plural(len(x), 'whole number')}")
        if len(y) and int(y.min()) < 0:
            raise DataError(f"{path}: the {name} labels include {int(y.min())}; labels are 0, 1, 2, …")
        if splits and x.shape[1] != splits[0][0].shape[1]:
            raise DataError(
                f"{path}: the {name} images have {x.shape[1]} values, the training images "
                f"{splits[0][0].shape[1]}"
            )
        with np.errstate(over="ignore"):
            images = _shared(x, np.float32)  # as network3 casts them: no rescaling
        if not np.isfinite(images).all():
            raise DataError(f"{path}: the {name} images hold NaN or infinite values (in float32)")
        if len(y) and int(y.max()) > np.iinfo(np.int32).max:
            raise DataError(f"{path}: the {name} labels include {int(y.max())}, beyond network3's int32")
        splits.append((images, _shared(y, np.int32)))
    return splits


__all__ = [
    "BOOK_DATA",
    "ConvPoolLayer",
    "FullyConnectedLayer",
    "Network",
    "ReLU",
    "SoftmaxLayer",
    "linear",
    "load_data_shared",
    "sigmoid",
    "size",
    "tanh",
    "to_spec",
]
