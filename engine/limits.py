"""Memory limits, and the estimates checked against them before any array is made.

A few hundred bytes of spec can describe a network that needs gigabytes (a conv padded by
3,000, 10⁵ filters, 10³⁰ classes), and a few kilobytes of data file can claim as much. So the
memory a network and a data set will take is computed from the spec and the files' headers
first, and anything beyond these limits is refused with the figure and the limit:

- ``max_params``: learned parameters in a network (default 10⁸);
- ``max_activation_bytes``: the feature maps and buffers of one batch, forward and backward
  (default 2 GiB; inference splits its batches to stay within it);
- ``max_data_bytes``: a data set's images and labels in memory, as the trainer holds them
  (float32 pixels, int64 labels; default 4 GiB).

Each can be raised, for a machine that has the memory: by ``--max-params``, ``--max-activations``
and ``--max-data`` on the command line, by the environment variables in :data:`ENV_VARS`, or in
Python by :func:`configure`. Sizes are bytes, or a number with KiB, MiB, GiB or TiB.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from engine.errors import LimitError, clip, listing
from engine.spec import LayerInfo, conv_padding, infer

GIB = 1 << 30
#: A kernel or pool window is stepped through one offset at a time in Python, so one of
#: millions of offsets would take minutes a batch whatever its memory.
MAX_WINDOW = 4096


@dataclass(frozen=True)
class Limits:
    max_params: int = 10**8
    max_activation_bytes: int = 2 * GIB
    max_data_bytes: int = 4 * GIB


ENV_VARS = {
    "max_params": "CONVSCOPE_MAX_PARAMS",
    "max_activation_bytes": "CONVSCOPE_MAX_ACTIVATIONS",
    "max_data_bytes": "CONVSCOPE_MAX_DATA",
}
#: How a user raises each limit, as the messages say.
_HOW = {
    "max_params": "--max-params or $CONVSCOPE_MAX_PARAMS",
    "max_activation_bytes": "--max-activations or $CONVSCOPE_MAX_ACTIVATIONS",
    "max_data_bytes": "--max-data or $CONVSCOPE_MAX_DATA",
}
_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)

_configured: dict[str, int] = {}


def parse_size(text: str, what: str | None = None) -> int:
    """A whole number of bytes (or of anything) from "2GiB", "512 MiB", "1e8" or "4096"; `what`
    names where the text came from in the error."""
    where = f"{what}: " if what else ""
    match = _SIZE.fullmatch(str(text))
    unit = match and _UNITS.get(match[2].lower())
    if not match or unit is None or len(match[1]) > 30:
        raise LimitError(f"{where}{clip(text, 40)!r} is not a size (e.g. 4096, 1e8, 512MiB, 2GiB)")
    value = float(match[1]) * unit
    if not 1 <= value < 2**63:
        raise LimitError(f"{where}{clip(text, 40)!r} must be at least 1 and below 2⁶³")
    return int(value)


def current() -> Limits:
    """The limits in force: :func:`configure`'s settings, else the environment's, else defaults."""
    values: dict[str, int] = {}
    for name, var in ENV_VARS.items():
        text = os.environ.get(var, "").strip()
        if text:
            values[name] = parse_size(text, var)
    values.update(_configured)
    return replace(Limits(), **values)


def configure(**limits: int | str | None) -> None:
    """Set limits for this process (names as in :class:`Limits`; None returns one to the
    environment's or the default)."""
    known = {f.name for f in fields(Limits)}
    for name, value in limits.items():
        if name not in known:
            raise TypeError(f"unknown limit {name!r} (known: {', '.join(sorted(known))})")
        if value is None:
            _configured.pop(name, None)
        else:
            _configured[name] = parse_size(str(value), name)


def format_bytes(n: int) -> str:
    """A byte count as people read it: 512 B, 1.6 MiB, 4.29 GiB."""
    if n < 1024:
        return f"{int(n)} B"
    power = min(int(math.log(n, 1024)), 5)
    try:
        value = n / 1024**power
    except OverflowError:  # a count read from a crafted header
        return "more than 10³⁰⁰ bytes"
    unit = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")[power]
    return f"{value:,.0f} {unit}" if 1000 <= value < 1e6 else f"{value:.3g} {unit}"


def _refuse(what: str, figure: str, limit_name: str, limit: str, advice: str = "") -> str:
    how = _HOW[limit_name]
    return f"{what} {figure}, more than the limit of {limit} ({advice}raise it with {how})"


@dataclass(frozen=True)
class MemoryEstimate:
    """What a network needs, from its spec alone: parameters, and the activations (feature maps,
    im2col buffers and their gradients) of one image, in training and in inference."""

    params: int
    itemsize: int
    train_bytes_per_image: int
    inference_bytes_per_image: int
    #: The largest window (conv kernel or pool) in offsets, and the layer that has it.
    window: int
    window_layer: str

    @property
    def param_bytes(self) -> int:
        return self.params * self.itemsize

    def train_bytes(self, batch: int) -> int:
        return self.train_bytes_per_image * batch

    def problems(self, limits: Limits | None = None) -> list[str]:
        """Why a network of this size is refused (its parameters or one image's activations
        beyond the limits), as messages; empty when it may be built."""
        return self._problems(limits or current(), batch=None)

    def check(self, batch: int | None = None, limits: Limits | None = None) -> None:
        """Raise :class:`LimitError` if the network, or training on batches of `batch`, would
        go beyond the limits."""
        problems = self._problems(limits or current(), batch)
        if problems:
            raise LimitError(listing(problems))

    def _problems(self, limits: Limits, batch: int | None) -> list[str]:
        problems = []
        if self.params > limits.max_params:
            figure, limit = f"{self.params:,} parameters", f"{limits.max_params:,}"
            problems.append(_refuse("the network has", figure, "max_params", limit))
        per_image = self.inference_bytes_per_image if batch is None else self.train_bytes_per_image
        need = per_image * (batch or 1)
        if need > limits.max_activation_bytes:
            what = "one image needs" if batch is None else f"training on batches of {batch:,} needs"
            advice = "choose a smaller batch size, or " if batch and batch > 1 else ""
            problems.append(
                _refuse(
                    what,
                    f"{format_bytes(need)} of activations",
                    "max_activation_bytes",
                    format_bytes(limits.max_activation_bytes),
                    advice,
                )
            )
        if self.window > MAX_WINDOW:
            problems.append(
                f"{self.window_layer}: its window covers {self.window:,} positions, more than the "
                f"{MAX_WINDOW:,} this engine steps through"
            )
        return problems

    def inference_rows(self, wanted: int, limits: Limits | None = None) -> int:
        """How many of `wanted` images one forward pass may take within the activation limit."""
        budget = (limits or current()).max_activation_bytes
        return max(1, min(wanted, budget // max(self.inference_bytes_per_image, 1)))

    def describe(self) -> str:
        """One line for a summary or the editor: the memory of the parameters and of activations."""
        return (
            f"parameters {format_bytes(self.param_bytes)}; activations "
            f"{format_bytes(self.train_bytes_per_image)} per image in training"
        )


def _window(info: LayerInfo) -> int:
    layer = info.layer
    if info.type == "conv":
        kh, kw = layer["kernel"]
        return kh * kw
    if info.type == "pool":
        return math.prod(layer["size"])
    return 1


def _elements(info: LayerInfo) -> tuple[int, int]:
    """(training, inference) elements one image takes in this layer's buffers and caches."""
    n_in, n_out = math.prod(info.input_shape), math.prod(info.output_shape)
    if info.type == "conv":
        c, h, w = info.input_shape
        top, bottom, left, right = conv_padding(info.layer)
        padded = c * (h + top + bottom) * (w + left + right)
        _, out_h, out_w = info.output_shape
        cols = out_h * out_w * (_window(info) * c + 1)
        forward = padded + cols + n_out
        # Backward: the pre-activation gradient, each kernel offset's input gradient, the
        # padded input's gradient.
        return forward + n_out + _window(info) * out_h * out_w * c + padded, forward
    if info.type == "pool":
        # Output; backward: the input's gradient and three output-sized masks or shares.
        return n_out * 4 + n_in, n_out
    # Dense and softmax: output and dropout mask; backward: the input's gradient.
    return n_out * 2 + n_in * 2, n_out


def estimate(spec: Any, dtype: Any = np.float32) -> MemoryEstimate:
    """The memory a network needs, from its spec (or its :func:`engine.spec.infer` infos)
    alone; raises :class:`engine.errors.SpecError` for a spec that cannot build."""
    infos = spec if isinstance(spec, list) else infer(spec)
    itemsize = np.dtype(dtype).itemsize
    train = infer_ = math.prod(infos[0].input_shape) if infos else 0
    window, window_layer = 1, ""
    for info in infos:
        t, i = _elements(info)
        train += t
        infer_ += i
        if _window(info) > window:
            window, window_layer = _window(info), f"layer {info.index} ({info.type})"
    return MemoryEstimate(
        params=sum(info.params for info in infos),
        itemsize=itemsize,
        train_bytes_per_image=train * itemsize,
        inference_bytes_per_image=infer_ * itemsize,
        window=window,
        window_layer=window_layer,
    )


def check_data(nbytes: int, source: str, limits: Limits | None = None) -> None:
    """Refuse a data set whose arrays would take more than ``max_data_bytes`` in memory."""
    limit = (limits or current()).max_data_bytes
    if nbytes > limit:
        figure, limit_text = f"{format_bytes(nbytes)} in memory", format_bytes(limit)
        raise LimitError(_refuse(f"{source} would take", figure, "max_data_bytes", limit_text))
