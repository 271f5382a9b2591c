"""The book's chapter-6 driver, `src/conv.py` of mnielsen/neural-networks-and-deep-learning, on
engine.network3, and an independent NumPy/SciPy network3 as the oracle for what it computes.

The oracle sums its convolutions directly (NumPy), with no engine code.

`BookConv` makes conv.py's network definitions and calls (shallow, basic_conv, omit_FC,
dbl_conv with sigmoid and ReLU, regularized_dbl_conv, expanded_data, double_fc_dropout) with
epochs and repetitions as parameters, on small files in the book's `mnist.pkl.gz` format built
from the built-in sample, read from `../data/` as conv.py reads them."""

from __future__ import annotations

import gzip
import io
import pickle
import struct

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import engine.network3 as network3
from engine import jit, limits, winograd
from engine.backend import Backend
from engine.data import load_dataset
from engine.errors import DataError, LimitError
from engine.network3 import (
    ConvPoolLayer,
    FullyConnectedLayer,
    Network,
    ReLU,
    SoftmaxLayer,
    sigmoid,
    tanh,
)

TRAIN, VALIDATION, TEST = 300, 100, 100


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2's `str` (BINSTRING), as the book's cPickle files hold them."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_python2_str(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_python2_str


def _book_file(path, splits) -> None:
    """A gzipped protocol-2 pickle of ((x, y), (x, y), (x, y)): x float32 (N, 784), y int64."""
    buf = io.BytesIO()
    _Python2Pickler(buf, protocol=2).dump(
        tuple((x.astype(np.float32), y.astype(np.int64)) for x, y in splits)
    )
    # Python 2's NumPy named its module numpy.core
    path.write_bytes(gzip.compress(buf.getvalue().replace(b"numpy._core.", b"numpy.core.")))


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory):
    """<tmp>/data/mnist.pkl.gz and mnist_expanded.pkl.gz (the training images and their copies
    shifted one pixel down, as expand_mnist.py shifts them), and <tmp>/src to run from."""
    root = tmp_path_factory.mktemp("book")
    data = load_dataset("mnist-5k")
    x = data.train[0].reshape(len(data.train[0]), -1)
    y = data.train[1]
    splits = [
        (x[:TRAIN], y[:TRAIN]),
        (x[TRAIN : TRAIN + VALIDATION], y[TRAIN : TRAIN + VALIDATION]),
        (data.test[0][:TEST].reshape(TEST, -1), data.test[1][:TEST]),
    ]
    (root / "data").mkdir()
    (root / "src").mkdir()
    _book_file(root / "data" / "mnist.pkl.gz", splits)
    shifted = np.roll(splits[0][0].reshape(-1, 28, 28), 1, axis=1).reshape(TRAIN, -1)
    expanded = (np.concatenate([splits[0][0], shifted]), np.concatenate([splits[0][1], splits[0][1]]))
    _book_file(root / "data" / "mnist_expanded.pkl.gz", [expanded, *splits[1:]])
    return root


@pytest.fixture
def in_src(book_dir, monkeypatch):
    monkeypatch.chdir(book_dir / "src")
    return book_dir


# -- conv.py's network definitions and calls ----------------------------------------------------


class BookConv:
    """conv.py's experiments; `epochs` and `repetitions` stand in for its 60 (40, 20) and 3."""

    def __init__(self, epochs: int = 1, repetitions: int = 1):
        self.epochs, self.repetitions = epochs, repetitions
        self.training_data, self.validation_data, self.test_data = network3.load_data_shared()
        self.mini_batch_size = 10

    def shallow(self):
        mbs, nets = self.mini_batch_size, []
        for _ in range(self.repetitions):
            print("A shallow net with 100 hidden neurons")
            net = Network([FullyConnectedLayer(n_in=784, n_out=100), SoftmaxLayer(n_in=100, n_out=10)], mbs)
            net.SGD(self.training_data, self.epochs, mbs, 0.1, self.validation_data, self.test_data)
            nets.append(net)
        return nets

    def _conv(self, n_in_maps=1, image=28, filters=20, activation_fn=sigmoid):
        return ConvPoolLayer(
            image_shape=(self.mini_batch_size, n_in_maps, image, image),
            filter_shape=(filters, n_in_maps, 5, 5),
            poolsize=(2, 2),
            activation_fn=activation_fn,
        )

    def basic_conv(self):
        mbs = self.mini_batch_size
        for _ in range(self.repetitions):
            print("Conv + FC architecture")
            net = Network(
                [
                    self._conv(),
                    FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100),
                    SoftmaxLayer(n_in=100, n_out=10),
                ],
                mbs,
            )
            net.SGD(self.training_data, self.epochs, mbs, 0.1, self.validation_data, self.test_data)
        return net

    def omit_FC(self):
        mbs = self.mini_batch_size
        for _ in range(self.repetitions):
            print("Conv only, no FC")
            net = Network([self._conv(), SoftmaxLayer(n_in=20 * 12 * 12, n_out=10)], mbs)
            net.SGD(self.training_data, self.epochs, mbs, 0.1, self.validation_data, self.test_data)
        return net

    def _dbl_conv_layers(self, activation_fn, n=100, second_fc=False, p=(0.0, 0.0, 0.0)):
        layers = [
            self._conv(activation_fn=activation_fn),
            self._conv(20, 12, 40, activation_fn=activation_fn),
            FullyConnectedLayer(n_in=40 * 4 * 4, n_out=n, activation_fn=activation_fn, p_dropout=p[0]),
        ]
        if second_fc:
            layers.append(FullyConnectedLayer(n_in=n, n_out=n, activation_fn=activation_fn, p_dropout=p[1]))
        return [*layers, SoftmaxLayer(n_in=n, n_out=10, p_dropout=p[2])]

    def dbl_conv(self, activation_fn=sigmoid):
        mbs = self.mini_batch_size
        for _ in range(self.repetitions):
            print("Conv + Conv + FC architecture")
            net = Network(self._dbl_conv_layers(activation_fn), mbs)
            net.SGD(self.training_data, self.epochs, mbs, 0.1, self.validation_data, self.test_data)
        return net

    def regularized_dbl_conv(self):
        mbs = self.mini_batch_size
        for lmbda in [0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0]:
            for j in range(self.repetitions):
                print(f"Conv + Conv + FC num {j}, with regularization {lmbda}")
                net = Network(self._dbl_conv_layers(sigmoid), mbs)
                net.SGD(
                    self.training_data,
                    self.epochs,
                    mbs,
                    0.1,
                    self.validation_data,
                    self.test_data,
                    lmbda=lmbda,
                )

    def dbl_conv_relu(self):
        mbs = self.mini_batch_size
        for lmbda in [0.0, 0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 100.0]:
            for j in range(self.repetitions):
                print(f"Conv + Conv + FC num {j}, relu, with regularization {lmbda}")
                net = Network(self._dbl_conv_layers(ReLU), mbs)
                net.SGD(
                    self.training_data,
                    self.epochs,
                    mbs,
                    0.03,
                    self.validation_data,
                    self.test_data,
                    lmbda=lmbda,
                )

    def expanded_data(self, n=100):
        mbs = self.mini_batch_size
        expanded_training_data, _, _ = network3.load_data_shared("../data/mnist_expanded.pkl.gz")
        for j in range(self.repetitions):
            print(f"Training with expanded data, {n} neurons in the FC layer, run num {j}")
            net = Network(self._dbl_conv_layers(ReLU, n), mbs)
            net.SGD(
                expanded_training_data,
                self.epochs,
                mbs,
                0.03,
                self.validation_data,
                self.test_data,
                lmbda=0.1,
            )
        return net

    def double_fc_dropout(self, p0, p1, p2, repetitions):
        mbs = self.mini_batch_size
        expanded_training_data, _, _ = network3.load_data_shared("../data/mnist_expanded.pkl.gz")
        nets = []
        for j in range(repetitions):
            print("\n\nTraining using a dropout network with parameters ", p0, p1, p2)
            print(f"Training with expanded data, run num {j}")
            net = Network(self._dbl_conv_layers(ReLU, 1000, second_fc=True, p=(p0, p1, p2)), mbs)
            net.SGD(expanded_training_data, self.epochs, mbs, 0.03, self.validation_data, self.test_data)
            nets.append(net)
        return nets


def _reports(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("Best validation accuracy")]


def test_book_data_loads_from_the_default_path_as_network3_gives_it(in_src):
    training_data, validation_data, test_data = network3.load_data_shared()
    assert network3.size(training_data) == TRAIN
    assert [network3.size(d) for d in (validation_data, test_data)] == [VALIDATION, TEST]
    x, y = test_data[0].eval(), test_data[1].eval()
    assert type(x) is np.ndarray and x.shape == (TEST, 784) and x.dtype == np.float32
    assert y.dtype == np.int32  # network3 casts the labels to int32
    assert training_data[0].get_value(borrow=True).shape == (TRAIN, 784)
    with pytest.raises(ValueError, match="read-only"):
        training_data[0][0, 0] = 1.0
    expanded, _, _ = network3.load_data_shared("../data/mnist_expanded.pkl.gz")
    assert network3.size(expanded) == 2 * TRAIN


def test_without_the_book_file_the_builtin_sample_stands_in_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    training_data, validation_data, test_data = network3.load_data_shared()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "../data/mnist.pkl.gz not found" in out and "mnist-5k" in out
    assert "first 3,500 images of its training split train, the last 500 validate" in out
    assert "its 1,000 test images test" in out
    assert [network3.size(d) for d in (training_data, validation_data, test_data)] == [3500, 500, 1000]


def test_a_hostile_or_wrong_book_file_is_a_data_error(tmp_path):
    class _Runs:
        def __reduce__(self):
            return (print, ("ran",))

    (tmp_path / "evil.pkl.gz").write_bytes(gzip.compress(pickle.dumps(_Runs(), protocol=2)))
    with pytest.raises(DataError, match=r"evil\.pkl\.gz: not a usable pickled data set .*__builtin__\.print"):
        network3.load_data_shared(tmp_path / "evil.pkl.gz")
    _book_file(tmp_path / "two.pkl.gz", [(np.zeros((2, 784)), np.zeros(2))] * 2)
    with pytest.raises(DataError, match="expected .training, validation, test. splits"):
        network3.load_data_shared(tmp_path / "two.pkl.gz")
    _book_file(tmp_path / "labels.pkl.gz", [(np.zeros((2, 784)), np.zeros(3))] * 3)
    with pytest.raises(DataError, match="the training labels are not 2 whole numbers"):
        network3.load_data_shared(tmp_path / "labels.pkl.gz")
    (tmp_path / "plain.pkl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"plain\.pkl\.gz: not a usable pickled data set"):
        network3.load_data_shared(tmp_path / "plain.pkl.gz")
    (tmp_path / "cut.pkl.gz").write_bytes((tmp_path / "labels.pkl.gz").read_bytes()[:40])
    with pytest.raises(DataError, match=r"cut\.pkl\.gz: is a damaged gzip file"):
        network3.load_data_shared(tmp_path / "cut.pkl.gz")
    _book_file(tmp_path / "nan.pkl.gz", [(np.full((2, 784), np.nan), np.zeros(2))] * 3)
    with pytest.raises(DataError, match="the training images hold NaN or infinite values"):
        network3.load_data_shared(tmp_path / "nan.pkl.gz")
    with pytest.raises(DataError, match=r"missing\.pkl\.gz: no such data file"):
        network3.load_data_shared(tmp_path / "missing.pkl.gz")


def test_a_book_file_is_inflated_no_further_than_the_data_limit(tmp_path, book_dir):
    """A gzip bomb would inflate to any size: reading stops at the limit, before unpickling."""
    limits.configure(max_data_bytes="100000")
    try:
        with pytest.raises(LimitError, match=r"mnist\.pkl\.gz, inflated as far as the limit, would take "):
            network3.load_data_shared(book_dir / "data" / "mnist.pkl.gz")
    finally:
        limits.configure(max_data_bytes=None)


@pytest.mark.parametrize(
    ("experiment", "nets"),
    [
        (lambda book: book.shallow(), 1),
        (lambda book: book.basic_conv(), 1),
        (lambda book: book.omit_FC(), 1),
        (lambda book: book.dbl_conv(activation_fn=sigmoid), 1),
        (lambda book: book.dbl_conv(activation_fn=ReLU), 1),
        (lambda book: book.regularized_dbl_conv(), 8),
        (lambda book: book.dbl_conv_relu(), 9),
        (lambda book: book.expanded_data(n=100), 1),
        (lambda book: book.double_fc_dropout(0.5, 0.5, 0.5, 1), 1),
    ],
    ids=[
        "shallow",
        "basic_conv",
        "omit_FC",
        "dbl_conv-sigmoid",
        "dbl_conv-ReLU",
        "regularized_dbl_conv",
        "dbl_conv_relu",
        "expanded_data",
        "double_fc_dropout",
    ],
)
def test_conv_py_experiments_run_and_report_as_network3(in_src, capsys, experiment, nets):
    book = BookConv(epochs=1, repetitions=1)
    experiment(book)
    out = capsys.readouterr().out
    reports = _reports(out)
    assert len(reports) == nets, out
    # one epoch of 300 images (600 expanded) in mini-batches of 10: the last iteration is 29 (59)
    last = 59 if "expanded" in out else 29
    assert all(r.endswith(f"obtained at iteration {last}") for r in reports), reports
    assert out.count("Epoch 0: validation accuracy") == nets and "Epoch 1" not in out
    assert out.count("Training mini-batch number 0") == nets
    assert out.count("Corresponding test accuracy of") == nets


def test_the_attributes_the_books_helpers_read(in_src, capsys):
    """ensemble and plot_filters build Theano functions (out of scope), but what they read is
    there, in network3's layouts."""
    book = BookConv()
    net = book.dbl_conv(activation_fn=ReLU)
    filters = net.layers[0].w.eval()
    assert filters.shape == (20, 1, 5, 5) and type(filters) is np.ndarray
    engine_weights = net.net.state_dict()["layers.0.weight"]
    np.testing.assert_array_equal(net.layers[0].w.get_value(), engine_weights[..., ::-1, ::-1])
    assert net.layers[2].w.get_value().shape == (640, 100)
    assert [p.get_value().shape for p in net.params][-2:] == [(100, 10), (10,)]
    test_x, test_y = book.test_data
    predicted = net.layers[-1].y_out.eval({net.x: test_x[:20]})
    np.testing.assert_array_equal(predicted, net.net.predict(np.asarray(test_x[:20]).reshape(20, 1, 28, 28)))
    np.testing.assert_array_equal(net.test_mb_predictions(1), predicted[10:])
    filters[...] = 0  # a copy: the network is untouched
    assert np.abs(net.layers[0].w.get_value()).sum() > 0


def test_a_second_sgd_call_counts_from_epoch_0_again_and_shuffle_is_opt_in(in_src, capsys):
    book = BookConv()
    net = book.shallow()[0]
    capsys.readouterr()
    before = [p.get_value() for p in net.params]
    net.SGD(book.training_data, 1, 10, 0.1, book.validation_data, book.test_data)
    out = capsys.readouterr().out
    assert "Epoch 0: validation accuracy" in out and "obtained at iteration 29" in out
    assert "Training mini-batch number 0" in out
    in_order = [p.get_value() for p in net.params]
    for p, value in zip(net.params, before, strict=True):
        p.set_value(value)
    net.SGD(book.training_data, 1, 10, 0.1, book.validation_data, book.test_data, shuffle=True)
    shuffled = [p.get_value() for p in net.params]
    assert any(np.abs(a - b).max() > 1e-4 for a, b in zip(in_order, shuffled, strict=True))


# -- the oracle: network3's semantics in NumPy/SciPy, float64 ------------------------------------


def _true_conv(x, w):
    """Theano's conv2d ('valid'), a true convolution: out[i, j] = Σ x[i + a, j + b]·w[kh−1−a, kw−1−b].
    x (N, C, H, W), w (F, C, kh, kw). Summed directly, so all-zero windows give exact zeros and
    their pooling ties stay ties (an FFT would break them with rounding noise)."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))
    return np.einsum("ncijab,fcab->nfij", windows, w[:, :, ::-1, ::-1], optimize=True)


class Oracle:
    """network3's Network for conv/pool, fully connected and softmax layers, written from its
    definitions: conv → max-pool (ignore_border=True) → + b → act; dropout drops inputs unscaled
    in training and multiplies x·w by 1 − p at inference. A window that holds its maximum more
    than once sends its gradient to every copy (Theano's rule); the bias, added after pooling,
    gets it once."""

    ACT = {
        sigmoid: (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
        ReLU: (lambda z: np.maximum(0.0, z), lambda z, a: (z >= 0).astype(z.dtype)),  # T.maximum's grad
        tanh: (np.tanh, lambda z, a: 1 - a * a),
    }

    def _act(self, fn):
        """network3's own activations, or a script's function with its `fn.derivative`."""
        return self.ACT.get(fn) or (fn, lambda z, a: fn.derivative(z))

    def __init__(self, layers, params):
        self.layers = layers
        self.params = [np.array(p, dtype=np.float64) for p in params]

    def forward(self, x, masks=None):
        """Inference without `masks`; training with them (one per dropout-capable layer)."""
        n, caches, a = len(x), [], x
        masks = list(masks) if masks is not None else None
        for k, layer in enumerate(self.layers):
            w, b = self.params[2 * k], self.params[2 * k + 1]
            if isinstance(layer, ConvPoolLayer):
                inp = a.reshape(n, *layer.image_shape[1:])
                conv = _true_conv(inp, w)
                ph, pw = layer.poolsize
                f, h, wd = conv.shape[1:]
                blocks = conv[:, :, : h // ph * ph, : wd // pw * pw].reshape(n, f, h // ph, ph, wd // pw, pw)
                pooled = blocks.max(axis=(3, 5))
                z = pooled + b[None, :, None, None]
                act, _ = self._act(layer.activation_fn)
                a = act(z)
                caches.append((inp, blocks, pooled, z, a))
                continue
            inp = a.reshape(n, -1)
            mask = None
            if masks is None:
                z = (1 - layer.p_dropout) * inp @ w + b
            else:
                mask = masks.pop(0)
                inp = inp * mask
                z = inp @ w + b
            if isinstance(layer, SoftmaxLayer):
                e = np.exp(z - z.max(axis=1, keepdims=True))
                a = e / e.sum(axis=1, keepdims=True)
            else:
                a = self._act(layer.activation_fn)[0](z)
            caches.append((inp, z, a, mask))
        return a, caches

    def step(self, x, y, eta, l2, masks=None):
        """One SGD step of network3's cost: mean log-likelihood + 0.5·l2·Σ‖w‖² (l2 = lmbda/batches)."""
        n = len(x)
        probs, caches = self.forward(x, masks if masks is not None else [1.0] * len(self.layers))
        grad = probs.copy()
        grad[np.arange(n), y] -= 1
        grad /= n
        grads = [None] * len(self.params)
        for k in reversed(range(len(self.layers))):
            layer, w = self.layers[k], self.params[2 * k]
            if isinstance(layer, ConvPoolLayer):
                inp, blocks, pooled, z, a = caches[k]
                dz = grad.reshape(z.shape) * self._act(layer.activation_fn)[1](z, a)
                grads[2 * k + 1] = dz.sum(axis=(0, 2, 3))
                tie = blocks == pooled[:, :, :, None, :, None]
                dblocks = tie * dz[:, :, :, None, :, None]
                dconv = np.zeros(
                    (len(inp), w.shape[0], inp.shape[2] - w.shape[2] + 1, inp.shape[3] - w.shape[3] + 1)
                )
                bh, bw = blocks.shape[2] * blocks.shape[3], blocks.shape[4] * blocks.shape[5]
                dconv[:, :, :bh, :bw] = dblocks.reshape(len(inp), w.shape[0], bh, bw)
                # ∂w[f, c, kh−1−a, kw−1−b] = Σ dconv[f, i, j]·x[c, i + a, j + b]; ∂x is the full
                # convolution of dconv with w: dconv zero-padded by kh−1, kw−1, windows · w.
                windows = sliding_window_view(inp, w.shape[2:], axis=(2, 3))
                grads[2 * k] = np.einsum("nfij,ncijab->fcab", dconv, windows, optimize=True)[:, :, ::-1, ::-1]
                if k:
                    kh, kw = w.shape[2:]
                    padded = np.pad(dconv, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
                    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))
                    grad = np.einsum("nfpqab,fcab->ncpq", windows, w, optimize=True)
                continue
            inp, z, a, mask = caches[k]
            dz = grad if isinstance(layer, SoftmaxLayer) else grad * self._act(layer.activation_fn)[1](z, a)
            grads[2 * k] = inp.T @ dz
            grads[2 * k + 1] = dz.sum(axis=0)
            grad = (dz @ w.T) * mask
        for i, g in enumerate(grads):
            decay = l2 * self.params[i] if i % 2 == 0 else 0.0
            self.params[i] = self.params[i] - eta * (g + decay)

    def epoch(self, x, y, mini_batch_size, eta, lmbda):
        """network3's epoch: whole mini-batches in file order, the last partial one dropped."""
        batches = len(x) // mini_batch_size
        for i in range(batches):
            rows = slice(i * mini_batch_size, (i + 1) * mini_batch_size)
            self.step(x[rows], y[rows], eta, lmbda / batches)


def _network3_init(layers, rng):
    """network3's initial weights: N(0, 1/n_out) (conv: n_out = F·kh·kw / pool area), N(0, 1)
    biases, a zero softmax; drawn here, independently of the engine's own draw."""
    params = []
    for layer in layers:
        if isinstance(layer, ConvPoolLayer):
            f = layer.filter_shape
            n_out = f[0] * np.prod(f[2:]) / np.prod(layer.poolsize)
            params += [rng.normal(0, np.sqrt(1 / n_out), f), rng.normal(0, 1, f[0])]
        elif isinstance(layer, SoftmaxLayer):
            params += [np.zeros((layer.n_in, layer.n_out)), np.zeros(layer.n_out)]
        else:
            params += [
                rng.normal(0, np.sqrt(1 / layer.n_out), (layer.n_in, layer.n_out)),
                rng.normal(0, 1, layer.n_out),
            ]
    return [p.astype(np.float32) for p in params]


def _twins(layers, device, dtype=np.float32):
    """A compatibility-layer network on `device` (float32 as network3 on the GPU, or float64)
    and the oracle (float64), from the same network3 initial weights, given to the network
    through `layer.w.set_value` in network3's layout."""
    net = Network(layers, 10, device=device, dtype=dtype)
    params = _network3_init(layers, np.random.default_rng(0))
    for p, value in zip(net.params, params, strict=True):
        p.set_value(value)
    return net, Oracle(layers, params)


def _softplus(z):
    """A custom activation_fn, as a script may pass one: with its derivative as an attribute."""
    return np.logaddexp(0.0, z)


_softplus.derivative = sigmoid


def _relative(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b)


def _conv_pool(maps, image, filters, act, poolsize=(2, 2)):
    return ConvPoolLayer(
        image_shape=(10, maps, *image),
        filter_shape=(filters, maps, 5, 5),
        poolsize=poolsize,
        activation_fn=act,
    )


ORACLE_NETS = {
    "dbl_conv-sigmoid-lmbda0.1": (
        lambda: [
            _conv_pool(1, (28, 28), 20, sigmoid),
            _conv_pool(20, (12, 12), 40, sigmoid),
            FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100),
            SoftmaxLayer(n_in=100, n_out=10),
        ],
        0.1,
        0.1,
    ),
    "dbl_conv-ReLU-lmbda1": (
        lambda: [
            _conv_pool(1, (28, 28), 20, ReLU),
            _conv_pool(20, (12, 12), 40, ReLU),
            FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
            SoftmaxLayer(n_in=100, n_out=10),
        ],
        0.03,
        1.0,
    ),
    "custom-activation-fc": (
        lambda: [
            _conv_pool(1, (28, 28), 6, ReLU),
            FullyConnectedLayer(n_in=6 * 12 * 12, n_out=30, activation_fn=_softplus),
            SoftmaxLayer(n_in=30, n_out=10),
        ],
        0.1,
        0.5,
    ),
    "rectangular-pool-tanh": (
        lambda: [
            _conv_pool(1, (28, 28), 6, tanh, poolsize=(2, 3)),
            FullyConnectedLayer(n_in=6 * 12 * 8, n_out=30, activation_fn=tanh),
            SoftmaxLayer(n_in=30, n_out=10),
        ],
        0.1,
        0.0,
    ),
}


@pytest.mark.parametrize(
    "name, winograd_convs, tolerance, compiled",
    [(name, False, 1e-5, True) for name in ORACLE_NETS]
    + [("dbl_conv-ReLU-lmbda1", True, 5e-4, compiled) for compiled in (True, False)],
)
def test_one_epoch_matches_the_oracle(
    in_src, capsys, name, winograd_convs, tolerance, compiled, device, monkeypatch
):
    """295 images: 29 whole mini-batches in file order, the last 5 images dropped. In float32:
    network3 on the GPU computes in float32 too, and its rounding stays within the tolerance.
    The host's Winograd convolutions (the second conv here) round 10-20× more than im2col's
    GEMMs per pass (tests/test_winograd.py); over an epoch the largest parameter error read
    1.1e-4 against im2col's 6.6e-7, so they have a tolerance of their own and the others are
    checked with im2col. The Winograd net also runs without the host's compiled kernels (their
    NumPy code, as CONVSCOPE_JIT=0 runs it)."""
    if not compiled:
        monkeypatch.setattr(jit, "enabled", lambda: False)
    if not winograd_convs:
        monkeypatch.setattr(winograd, "plan", lambda *args: None)
    make, eta, lmbda = ORACLE_NETS[name]
    layers = make()
    net, oracle = _twins(layers, device)
    (x, y), validation, test = network3.load_data_shared()
    x, y = x[:295].get_value(), y[:295].get_value()
    net.SGD((x, y), 1, 10, eta, validation, test, lmbda=lmbda)
    oracle.epoch(x.astype(np.float64), y, 10, eta, lmbda)
    for p, expected in zip(net.params, oracle.params, strict=True):
        assert _relative(p.get_value(), expected) < tolerance, p.name
    assert "obtained at iteration 28" in capsys.readouterr().out


def _dropout_layers(p):
    return [
        _conv_pool(1, (28, 28), 8, ReLU),
        FullyConnectedLayer(n_in=8 * 12 * 12, n_out=50, activation_fn=ReLU, p_dropout=p[0]),
        FullyConnectedLayer(n_in=50, n_out=30, activation_fn=sigmoid, p_dropout=p[1]),
        SoftmaxLayer(n_in=30, n_out=10, p_dropout=p[2]),
    ]


def test_dropout_inference_matches_the_oracle(in_src, device):
    layers = _dropout_layers((0.5, 0.25, 0.2))
    net, oracle = _twins(layers, device, dtype=np.float64)
    rng = np.random.default_rng(1)
    oracle.params[-2] = rng.normal(0, 0.3, oracle.params[-2].shape).astype(np.float32)  # not all zero
    net.params[-2].set_value(oracle.params[-2])
    _, _, (x, _) = network3.load_data_shared()
    x = x.get_value()[:40]
    expected, _ = oracle.forward(x.astype(np.float64))
    assert _relative(net.layers[-1].output.eval({net.x: x}), expected) < 1e-5
    np.testing.assert_array_equal(net.layers[-1].y_out.eval({net.x: x}), expected.argmax(axis=1))


class _Recorder:
    """A dropout generator that remembers every uniform draw, from which the masks follow."""

    draws: list[np.ndarray] = []

    def __init__(self, rng):
        self.rng = rng

    def random_sample(self, shape):
        u = self.rng.random_sample(shape)
        _Recorder.draws.append(u)
        return u


def test_one_dropout_training_step_matches_the_oracle_with_the_same_masks(in_src, monkeypatch, device):
    p = (0.5, 0.25, 0.2)
    layers = _dropout_layers(p)
    net, oracle = _twins(layers, device, dtype=np.float64)
    oracle.params[-2] = np.random.default_rng(1).normal(0, 0.3, oracle.params[-2].shape)
    net.params[-2].set_value(oracle.params[-2])
    monkeypatch.setenv("CONVSCOPE_THREADS", "1")
    make_rng = Backend.rng
    monkeypatch.setattr(Backend, "rng", lambda self, seed: _Recorder(make_rng(self, seed)))
    _Recorder.draws = []
    (x, y), _, _ = network3.load_data_shared()
    x, y = x.get_value()[:10], y.get_value()[:10]
    net.SGD((x, y), 1, 10, 0.05)
    draws = [device.to_host(u) for u in _Recorder.draws]
    masks = [(u < 1 - q).astype(np.float64) for u, q in zip(draws, p, strict=True)]
    assert [m.shape for m in masks] == [(10, 1152), (10, 50), (10, 30)]
    # The engine flattens pooled maps in their (height, width, maps) memory order: the first
    # mask in network3's (maps, height, width) order
    masks[0] = masks[0].reshape(10, 12, 12, 8).transpose(0, 3, 1, 2).reshape(10, -1)
    oracle.step(x.astype(np.float64), y, 0.05, 0.0, masks)
    for param, expected in zip(net.params, oracle.params, strict=True):
        assert _relative(param.get_value(), expected) < 1e-5, param.name
