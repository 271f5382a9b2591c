"""A conv-pool-fc network built from a spec: parameters, forward, backward, feature maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.backend import Backend, get_backend
from engine.data import as_split
from engine.errors import SettingError
from engine.init import check_init, initial_values
from engine.layers import Layer, make_layer
from engine.layers.conv import Conv
from engine.layers.pool import BIAS_SURPLUS, Pool
from engine.limits import estimate
from engine.parallel import INLINE, Beside, Threads, host_threads
from engine.spec import default_spec, infer, normalize, param_name, shape_text
from engine.spec import summary as spec_summary

#: The most images a host forward pass takes at once (measured, tests/benchmarks/README.md): a
#: larger pass's buffers fall out of the cache, a smaller one pays its per-pass overhead more
#: often. 128 is a batch-256 training step's part on each of two threads, so inference after
#: such a run reuses its buffers as they are.
FORWARD_ROWS = 128


def tensor_problems(
    tensors: dict[str, Any], expected: dict[str, tuple[int, ...]], dtype: Any, user: str, prefix: str = ""
) -> list[str]:
    """What keeps `tensors` from standing for `expected` (name -> shape): a tensor that `user`
    does not use, a wrong shape, a dtype other than `dtype` (unless None). Whether a missing
    tensor is a problem is the caller's to say: a network needs all, an optimizer starts lazily."""
    problems = []
    for k, v in tensors.items():
        if k not in expected:
            problems.append(f"it has a tensor {prefix}{k} that {user} does not use")
        elif tuple(v.shape) != expected[k]:
            got, want = shape_text(v.shape) or "scalar", shape_text(expected[k])
            problems.append(f"tensor {prefix}{k} is {got} but the network needs {want}")
        elif dtype is not None and v.dtype != dtype:
            problems.append(f"tensor {prefix}{k} is {v.dtype} but the network is {dtype}")
    return problems


#: The dtypes a network may have: the host's compiled kernels and the weight files take these.
DTYPES = ("float32", "float64")

class Network:
    """A network of conv, pool, dense and softmax layers on one backend.

    It knows its parameters, forward, backward and feature maps; training and weight files are
    functions that take a network (:func:`engine.fit`, :func:`engine.save`, :func:`engine.load`).

    `params` is the live dict name -> array (``layers.{i}.weight`` / ``layers.{i}.bias``, with
    PyTorch's layouts), so writing into an array changes the network. `initialise=False` leaves it
    empty for a caller that loads every parameter at once (the weight-file loader).
    """

    def __init__(
        self,
        spec: dict[str, Any] | None = None,
        *,
        seed: int = 0,
        device: str | Backend | None = None,
        init: str = "network3",
        dtype: Any = np.float32,
        initialise: bool = True,
    ):
        self.spec = normalize(default_spec() if spec is None else spec)
        self.infos = infer(self.spec)
        self.dtype = np.dtype(dtype)
        if self.dtype.name not in DTYPES:  # the host's compiled kernels take no other
            raise SettingError(f"dtype: a network's dtype is float32 or float64, not {self.dtype.name}")
        #: The memory it needs, checked against engine.limits before any array is made.
        self.memory = estimate(self.infos, self.dtype)
        self.memory.check()
        self.backend = get_backend(device)
        self.xp = self.backend.xp
        check_init(init)
        self.init = init
        self.seed = seed
        self.layers: list[Layer] = [make_layer(info, self.backend) for info in self.infos]
        for layer, after in zip(self.layers[:-1], self.layers[1:], strict=True):
            if isinstance(layer, Conv) and isinstance(after, Pool) and layer.activation == "relu":
                layer.relu_in_pool = after.masks_relu = after.mode == "max"
        self.params: dict[str, Any] = {}
        #: What the weight file records beside the tensors (epochs, metrics, class names, ...).
        self.metadata: dict[str, Any] = {}
        if initialise:
            self.reset_parameters(seed)

    # -- parameters --------------------------------------------------------------------------

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.spec["input"])

    @property
    def classes(self) -> int:
        return self.spec["classes"]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            layer.info.param(key): shape
            for layer in self.layers
            for key, shape in layer.param_shapes().items()
        }

    def reset_parameters(self, seed: int | None = None) -> None:
        """(Re)initialise every parameter; drawn on the host so every device starts from the same
        weights for a given seed."""
        self.seed = self.seed if seed is None else seed
        rng = np.random.default_rng(self.seed)
        for layer, after in zip(self.layers, [*self.infos[1:], None], strict=True):
            values = initial_values(self.init, layer.info, layer.param_shapes(), after, rng)
            for key, value in values.items():
                self.params[layer.info.param(key)] = self.backend.to_device(
                    value, dtype=self.dtype
                )

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of every parameter."""
        return {k: self.backend.to_host(v).copy() for k, v in self.params.items()}

    def state_problems(self, state: dict[str, Any], exact_dtype: bool = False) -> list[str]:
        """Why `state` cannot be this network's parameters: missing or unused tensors, wrong
        shapes, and with `exact_dtype` a dtype other than the network's (a file must match it)."""
        expected = self.param_shapes()
        problems = [f"tensor {k} is missing" for k in expected if k not in state]
        problems += tensor_problems(state, expected, self.dtype if exact_dtype else None, "the network")
        return problems

    def load_state_dict(self, state: dict[str, Any]) -> None:
        problems = self.state_problems(state)
        if problems:
            raise ValueError("; ".join(problems))
        for k, v in state.items():
            self.params[k] = self.backend.to_device(v, dtype=self.dtype)

    def take_weights(self, old: Network, sources: dict[int, int]) -> list[int]:
        """Carry learned weights over an edit: layer i takes old layer `sources[i]`'s tensors when
        every shape still fits. Returns the layers with parameters that keep their fresh init."""
        old_state, state = old.state_dict(), self.state_dict()
        reset = []
        for layer in self.layers:
            i = layer.info.index
            keys = layer.param_shapes()
            if not keys:
                continue
            moved = {param_name(i, k): old_state.get(param_name(sources.get(i), k)) for k in keys}
            if all(v is not None and v.shape == state[name].shape for name, v in moved.items()):
                state.update(moved)
            else:
                reset.append(i)
        self.load_state_dict(state)
        if len(reset) < sum(1 for layer in self.layers if layer.param_shapes()):
            self.metadata = dict(old.metadata)
        return reset

    # -- forward and backward ----------------------------------------------------------------

    def _input(self, x: Any) -> Any:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"the network expects inputs of shape {shape_text(self.input_shape)}, "
                f"got {shape_text(x.shape[1:])}"
            )
        if isinstance(x, np.ndarray) or x.dtype != self.dtype:
            return self.backend.to_device(x, dtype=self.dtype)
        return x

    def _layer_params(self, layer: Layer) -> dict[str, Any]:
        return {k: self.params[layer.info.param(k)] for k in layer.param_shapes()}

    def forward(self, x: Any, *, train: bool = False, rng: Any = None) -> tuple[Any, list[Any]]:
        """Class probabilities on the device, and each layer's cache for `backward`: the caches
        live in the layers' workspaces, valid until the next forward pass on this thread."""
        a = self._input(x)
        caches = []
        for layer in self.layers:
            a, cache = layer.forward(a, self._layer_params(layer), train, rng)
            caches.append(cache)
        return a, caches

    def loss(self, probs: Any, y: Any) -> Any:
        """Mean log-likelihood cost, as a device scalar (no host synchronisation)."""
        xp = self.xp
        picked = probs[xp.arange(probs.shape[0]), y]
        return -xp.log(xp.maximum(picked, np.finfo(self.dtype).tiny)).mean()

    def backward(
        self, probs: Any, y: Any, caches: list[Any], batch: int | None = None, beside: Beside = INLINE
    ) -> dict[str, Any]:
        """dL/dparam for every parameter, given the forward pass's probabilities and caches.

        `batch` is the whole batch's size when these rows are one thread's part of it, so the
        parts' gradients add up to the batch's mean; `beside` runs the layers' independent work."""
        return self._propagate(self._output_gradient(probs, y, batch), caches, beside)

    def _output_gradient(self, probs: Any, y: Any, batch: int | None) -> Any:
        """dL/dlogits of the mean log-likelihood over `batch` images: (probs - one-hot) / batch."""
        xp = self.xp
        n = probs.shape[0]
        grad = probs.copy()
        grad[xp.arange(n), y] -= 1
        grad *= 1.0 / (batch or n)
        return grad

    def _scores(self, probs: Any, y: Any, batch: int) -> tuple[Any, Any, Any]:
        """A training part's summed loss and correct answers (device scalars) and dL/dlogits:
        one fused kernel where the backend has it, else array operations."""
        fused = self.backend.step_kernels
        if fused is not None and probs.flags.c_contiguous:
            return fused.cross_entropy(probs, y, 1.0 / batch, np.finfo(self.dtype).tiny)
        loss = self.loss(probs, y) * probs.shape[0]
        return loss, (probs.argmax(axis=1) == y).sum(), self._output_gradient(probs, y, batch)

    def _propagate(self, grad: Any, caches: list[Any], beside: Beside) -> dict[str, Any]:
        """dL/dparam for every parameter, from dL/dlogits back through the layers."""
        grads: dict[str, Any] = {}
        surplus = None
        for layer, cache in zip(reversed(self.layers), reversed(caches), strict=True):
            i = layer.info.index
            grad, layer_grads = layer.backward(grad, cache, self._layer_params(layer), i > 0, beside)
            if surplus is not None:  # this conv's bias is added after the pool, as network3's
                layer_grads["bias"] = layer_grads["bias"] - surplus
            surplus = layer_grads.pop(BIAS_SURPLUS, None)
            for k, g in layer_grads.items():
                grads[layer.info.param(k)] = g
        return grads

    def send_ties_to_every_maximum(self) -> None:
        """network3's max-pool gradient, as Theano computes it: a window holding its maximum
        more than once (identical patches: blank background, saturated strokes) sends its
        gradient to every copy, and a conv just before the pool gets its bias gradient once per
        window, as network3, which adds the bias after pooling, has it. The default sends it to
        the first copy only, which gives the same bias gradient but not the same weights'."""
        for layer, after in zip([None, *self.layers[:-1]], self.layers, strict=True):
            if isinstance(after, Pool) and after.mode == "max":
                after.all_maxima = True
                after.bias_activation = layer.activation if isinstance(layer, Conv) else None

    def labels(self, y: Any) -> Any:
        if isinstance(y, np.ndarray):
            return self.backend.to_device(y.astype(np.int64, copy=False))
        return y

    def loss_and_grads(
        self, x: Any, y: Any, *, train: bool = True, rng: Any = None
    ) -> tuple[float, dict[str, Any]]:
        """The cost on one batch and its gradient for every parameter (same keys as `params`).

        Dropout is active when `train` is true; pass `rng` (a backend generator) to fix its masks.
        """
        if rng is None:
            rng = self.backend.rng(self.seed)
        y = self.labels(y)
        probs, caches = self.forward(x, train=train, rng=rng)
        grads = self.backward(probs, y, caches)
        return float(self.loss(probs, y)), grads

    def batch_gradients(self, x: Any, y: Any, rngs: Sequence[Any], threads: Threads) -> tuple[Any, Any, dict]:
        """A training batch split over `threads`: (summed loss, correct answers, mean gradients),
        the first two as device scalars. Part p draws its dropout masks from `rngs[p]`."""
        n = x.shape[0]
        beside = threads.spare(n)

        def part(p: int, rows: slice) -> tuple[Any, Any, dict[str, Any]]:
            probs, caches = self.forward(x[rows], train=True, rng=rngs[p])
            loss, correct, grad = self._scores(probs, y[rows], n)
            return loss, correct, self._propagate(grad, caches, beside)

        (loss, correct, grads), *others = threads.map(part, n)
        for other_loss, other_correct, other_grads in others:
            loss, correct = loss + other_loss, correct + other_correct
            for k, g in other_grads.items():
                grads[k] += g
        return loss, correct, grads

    # -- inference and inspection ------------------------------------------------------------

    def predict_proba(self, x: Any, batch_size: int = 500, threads: int | None = None) -> np.ndarray:
        """Class probabilities (N, classes) on the host, forwarding at most `batch_size` images
        at once, and on the CPU no more than FORWARD_ROWS. The host's threads each take a run of
        these batches (`threads` of them, default :func:`engine.parallel.default_threads`), so
        none waits for another and the result does not depend on the thread count."""
        out = np.empty((len(x), self.classes), dtype=self.dtype)
        rows = min(batch_size, FORWARD_ROWS) if self.backend.on_host else batch_size
        rows = self.memory.inference_rows(rows)  # within the activation limit
        starts = range(0, len(x), rows)

        def part(_: int, which: slice) -> None:
            for i in starts[which]:
                out[i : i + rows] = self.backend.to_host(self.forward(x[i : i + rows])[0])

        with host_threads(self.backend, threads) as pool:
            pool.map(part, len(starts), min_part=1)
        return out

    def predict(self, x: Any, batch_size: int = 500, threads: int | None = None) -> np.ndarray:
        return self.predict_proba(x, batch_size, threads).argmax(axis=1)

    def evaluate(self, data: Any, batch_size: int = 500) -> tuple[float, float]:
        """(mean loss, accuracy) over an (x, y) pair or a data set's test split."""
        _, loss, accuracy = self.predict_and_score(data, batch_size)
        return loss, accuracy

    def predict_and_score(
        self, data: Any, batch_size: int = 500, threads: int | None = None
    ) -> tuple[np.ndarray, float, float]:
        """(predicted labels on the host, mean loss, accuracy) from one pass over an (x, y) pair
        or a data set's test split, so a caller that wants both never predicts twice."""
        probs, y, loss = self.probabilities_and_loss(data, batch_size, threads)
        predicted = probs.argmax(axis=1)
        return predicted, loss, float((predicted == y).mean())

    def probabilities_and_loss(
        self, data: Any, batch_size: int = 500, threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(class probabilities, true labels, both on the host, mean loss) from one pass over an
        (x, y) pair or a data set's test split: what every score and analysis is computed from."""
        x, y = as_split(data, test=True)
        probs = self.predict_proba(x, batch_size, threads)
        y = self.backend.to_host(y)
        return probs, y, float(self.loss(self.backend.to_device(probs), self.labels(y)))

    def feature_maps(self, x: Any) -> list[np.ndarray]:
        """Every layer's output for a few inputs, on the host: conv outputs after activation,
        pooled maps, dense activations, and the class probabilities last. On one BLAS thread:
        the GEMMs of a few images are too small to share, and waking a second BLAS thread for
        each costs more than the pass (tests/benchmarks/bench_live.py)."""
        a = self._input(x)
        maps = []
        with host_threads(self.backend, 1):
            for layer in self.layers:
                a, _ = layer.forward(a, self._layer_params(layer), False, None)
                maps.append(self.backend.to_host(layer.shown(a)))
        return maps

    def input_gradient(self, x: Any, target: int | None = None) -> Any:
        """|∂ score/∂ input| for each image of `x`, on the device: the saliency map. The score is
        the softmax's input (the class's logit) for class `target`, or for each image's
        predicted class; the logit, unlike the probability, does not fall because another
        class rises. Inference mode: no dropout."""
        xp = self.xp
        probs, caches = self.forward(x)
        n = probs.shape[0]
        classes = probs.argmax(axis=1) if target is None else xp.full(n, target, dtype=xp.int64)
        grad = xp.zeros_like(probs)
        grad[xp.arange(n), classes] = 1
        for layer, cache in zip(reversed(self.layers), reversed(caches), strict=True):
            grad, _ = layer.backward(grad, cache, self._layer_params(layer), True)
        return xp.abs(grad)

    def summary(self) -> str:
        return spec_summary(self.spec)
