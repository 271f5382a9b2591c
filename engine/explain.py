"""The kernel explainer's arithmetic: one output cell of a conv or pool layer, worked out step by
step from the numbers the explainer shows (the window, the weights, the bias), so what the user
reads is the sum that gives the cell.

The explainer works on host copies: the layer's input and parameters are brought to the host
once, for display, and every cell is computed from those displayed values. A cell equals the
engine's own feature map to float32 precision (tests/test_explain.py compares them).

This engine adds a conv's bias before its activation and pools the activated maps; for a max
pool after a ReLU (or any rising activation) that is network3's order (pool, add the bias, then
activate) to the last bit, and a pool explainer takes the conv's activated maps as its input."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import activations
from engine.layers.conv import Conv
from engine.layers.pool import Pool
from engine.spec import conv_padding


@dataclass(frozen=True)
class Axis:
    """A window sliding along one axis: input size `n`, window `k`, stride `s`, and the padding
    `before` and `after` (they differ for 'same' padding with an even kernel)."""

    n: int
    k: int
    s: int
    before: int = 0
    after: int = 0

    @property
    def padded(self) -> int:
        return self.n + self.before + self.after

    @property
    def fits(self) -> bool:
        return self.k <= self.padded and self.s >= 1

    @property
    def out(self) -> int:
        """⌊(n + p_before + p_after − k)/s⌋ + 1, or 0 when the window does not fit."""
        return (self.padded - self.k) // self.s + 1 if self.fits else 0

    def formula(self) -> str:
        """The output size formula with this axis's numbers filled in."""
        text = f"⌊({self.n} + {self.before} + {self.after} − {self.k})/{self.s}⌋ + 1"
        if not self.fits:
            return f"{text}: the window ({self.k}) is larger than the padded input ({self.padded})"
        return f"{text} = {self.out}"

    def start(self, i: int) -> int:
        """Where output cell `i`'s window starts, in padded coordinates."""
        return i * self.s


@dataclass(frozen=True)
class ConvCell:
    """One conv output cell, written out: the window of the padded input (C, kh, kw), the
    filter's weights and bias, their products, the sum per input channel, the total
    Σ w·x + b, and the activation of the total, which is the output cell."""

    row: int
    col: int
    window: np.ndarray
    weights: np.ndarray
    bias: float
    products: np.ndarray
    channel_sums: np.ndarray
    total: float
    activation: str
    output: float


@dataclass(frozen=True)
class PoolCell:
    """One pool output cell: the window of one feature map, the mode, and the value it keeps
    (for max, `kept_at` is the maximum's (row, col) in the window)."""

    row: int
    col: int
    window: np.ndarray
    mode: str
    output: float
    kept_at: tuple[int, int] | None


def _activate(name: str, z: np.ndarray) -> np.ndarray:
    return activations.forward(np, name, z.copy())


class _Walk(ABC):
    """A window walking over `padded` (C, H', W') along `rows` and `cols`; a subclass works out
    each output `cell`."""

    padded: np.ndarray
    rows: Axis
    cols: Axis

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.rows.out, self.cols.out

    def window(self, i: int, j: int) -> np.ndarray:
        """Output cell (i, j)'s window of every channel."""
        r, c = self.rows.start(i), self.cols.start(j)
        return self.padded[:, r : r + self.rows.k, c : c + self.cols.k]

    @abstractmethod
    def cell(self, f: int, i: int, j: int) -> Any:
        """Output cell (i, j) of filter or map `f`, written out."""

    def feature_map(self, f: int) -> np.ndarray:
        """Map `f`'s whole output, cell by cell, as the explainer fills it in."""
        out_h, out_w = self.output_shape
        return np.array(
            [[self.cell(f, i, j).output for j in range(out_w)] for i in range(out_h)],
            dtype=self.padded.dtype,
        )


class ConvExplainer(_Walk):
    """One conv layer applied to one input (C, H, W): every output cell of every filter."""

    kind = "conv"

    def __init__(
        self,
        image: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray,
        stride: int | tuple[int, int] = 1,
        padding: tuple[int, int, int, int] = (0, 0, 0, 0),
        activation: str = "linear",
    ):
        self.image = np.asarray(image)
        self.weight = np.asarray(weight)
        self.bias = np.asarray(bias)
        c, h, w = self.image.shape
        f, wc, kh, kw = self.weight.shape
        if wc != c or self.bias.shape != (f,):
            raise ValueError(
                f"weights {self.weight.shape} and bias {self.bias.shape} do not fit input {self.image.shape}"
            )
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        top, bottom, left, right = padding
        self.rows = Axis(h, kh, sh, top, bottom)
        self.cols = Axis(w, kw, sw, left, right)
        self.activation = activation
        self.padded = np.pad(self.image, ((0, 0), (top, bottom), (left, right)))

    @property
    def filters(self) -> int:
        return self.weight.shape[0]

    def cell(self, f: int, i: int, j: int) -> ConvCell:
        window = self.window(i, j)
        weights = self.weight[f]
        products = window * weights
        channel_sums = products.sum(axis=(1, 2))
        total = channel_sums.sum() + self.bias[f]
        output = _activate(self.activation, np.asarray(total))
        return ConvCell(
            i, j, window, weights, float(self.bias[f]), products, channel_sums, float(total),
            self.activation, float(output),
        )


class PoolExplainer(_Walk):
    """One pool layer applied to feature maps (C, H, W): every output cell of every map."""

    kind = "pool"

    def __init__(self, maps: np.ndarray, size: tuple[int, int], stride: tuple[int, int], mode: str):
        self.image = self.padded = np.asarray(maps)
        _, h, w = self.image.shape
        self.rows = Axis(h, size[0], stride[0])
        self.cols = Axis(w, size[1], stride[1])
        self.mode = mode

    @property
    def filters(self) -> int:
        """The maps pooled one by one (a pool keeps the channel count)."""
        return self.image.shape[0]

    def cell(self, f: int, i: int, j: int) -> PoolCell:
        window = self.window(i, j)[f]
        if self.mode == "max":
            at = np.unravel_index(int(window.argmax()), window.shape)
            return PoolCell(i, j, window, "max", float(window[at]), (int(at[0]), int(at[1])))
        return PoolCell(i, j, window, "mean", float(window.mean(dtype=window.dtype)), None)


Explainer = ConvExplainer | PoolExplainer


def explainable_layers(network: Any) -> list[int]:
    """The indices of the network's conv and pool layers, the ones the explainer can show."""
    return [i for i, layer in enumerate(network.layers) if isinstance(layer, Conv | Pool)]


def resized_kernel(weight: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A conv's weights (F, C, kh, kw) at another kernel size, for "what if": a smaller kernel
    is the weights' centre, a larger one has them at its centre with zeros around (any odd
    row or column of the difference at the bottom/right, as 'same' padding puts it). A kernel
    size has no weights of its own, so every number shown stays one the layer learned."""
    out = np.zeros((*weight.shape[:2], *size), dtype=weight.dtype)
    source, target = [], []
    for old, new in zip(weight.shape[2:], size, strict=True):
        offset = abs(old - new) // 2
        keep = min(old, new)
        inner, outer = slice(offset, offset + keep), slice(0, keep)
        source.append(inner if new < old else outer)
        target.append(outer if new < old else inner)
    out[:, :, target[0], target[1]] = weight[:, :, source[0], source[1]]
    return out


def what_if_padding(padding: int | str, kernel: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for a what-if padding: a number on every side, or 'same'
    as a layer has it (uneven for an even kernel)."""
    return conv_padding({"kernel": kernel, "padding": padding})


def explain_layer(
    network: Any,
    x: Any,
    index: int,
    *,
    maps: list[np.ndarray] | None = None,
    params: tuple[np.ndarray, np.ndarray] | None = None,
    stride: tuple[int, int] | None = None,
    padding: tuple[int, int, int, int] | None = None,
    size: tuple[int, int] | None = None,
) -> Explainer:
    """The explainer of layer `index` of `network` for one input `x` (C, H, W): its input is
    `x` or the previous layer's feature maps, brought to the host with the layer's parameters.
    `maps` (every layer's output for `x`) and a conv's `params` (weight, bias), host copies
    taken elsewhere, are used instead of reading the network: while a run trains it, its
    worker sends them. `stride`, `padding` (top, bottom, left, right) and `size` (a pool's
    window, a conv's kernel: its weights resized by :func:`resized_kernel`) replace the
    layer's own, for "what if"."""
    layer = network.layers[index]
    host = network.backend.to_host
    if index == 0:
        layer_input = host(x)
    elif maps is not None:
        layer_input = maps[index - 1]
    else:
        layer_input = network.feature_maps(x[None])[index - 1][0]
    if isinstance(layer, Conv):
        weight, bias = params or (host(network.params[layer.info.param(n)]) for n in ("weight", "bias"))
        if size is not None:
            weight = resized_kernel(weight, size)
        return ConvExplainer(
            layer_input,
            weight,
            bias,
            stride or layer.stride,
            padding or layer.padding,
            layer.activation,
        )
    if isinstance(layer, Pool):
        return PoolExplainer(layer_input, size or layer.size, stride or layer.stride, layer.mode)
    raise ValueError(
        f"layer {index + 1} is a {layer.info.type} layer; the explainer shows conv and pool layers"
    )


#: The notes' worked example: a 5×5 image of 0/1 pixels, a 3×3 kernel and a bias of 2, no
#: activation; stride 1 without padding gives 6 at the first window.
NOTES_IMAGE = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
    dtype=np.float32,
)
NOTES_WEIGHTS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
NOTES_BIAS = 2.0


def notes_example(
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int, int, int] = 0,
    size: tuple[int, int] | None = None,
) -> ConvExplainer:
    """The notes' example as an explainer, with the stride, padding (one number, or top,
    bottom, left, right) and kernel size (:func:`resized_kernel`) the user picks."""
    weights = NOTES_WEIGHTS[None, None]
    return ConvExplainer(
        NOTES_IMAGE[None],
        weights if size is None else resized_kernel(weights, size),
        np.array([NOTES_BIAS], dtype=np.float32),
        stride,
        (padding,) * 4 if isinstance(padding, int) else padding,
        "linear",
    )
