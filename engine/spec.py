"""The network spec: one JSON-serialisable description shared by the CLI, the window, the weight
files and the tests, with validation and shape inference that run before any array is made."""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine import jsontext
from engine.activations import Custom
from engine.bounded_io import open_regular, read_regular
from engine.errors import SpecError, clip
from engine.output_path import check_output_path
from engine.wording import plural

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")
POOL_MODES = ("max", "mean")
LAYER_TYPES = ("conv", "pool", "dense", "softmax")
_REQUIRED = object()
#: The largest whole number a spec field may hold: far beyond any real network (which the memory
#: limits of engine.limits refuse long before), and it keeps every size a machine integer.
MAX_WHOLE = 2**31 - 1
#: A spec file larger than this is not a spec.
MAX_SPEC_BYTES = 16 << 20
#: A network has at most this many layers, far more than one built by hand needs: the window
#: draws a panel per layer, its layout's cost growing with the square of the panels, so a small
#: spec file of thousands of layers froze it (figures: tests/benchmarks/README.md, QA pass).
MAX_LAYERS = 100

#: Each layer type's fields and their defaults; `_REQUIRED` fields have none.
FIELDS: dict[str, dict[str, Any]] = {
    "conv": {
        "filters": _REQUIRED,
        "kernel": _REQUIRED,
        "stride": 1,
        "padding": 0,
        "activation": "relu",
    },
    # Pool `size` and `stride`, like conv `kernel`, are a whole number or [height, width]; the
    # normal form is always the pair, and `stride` defaults to `size`.
    "pool": {"mode": "max", "size": _REQUIRED, "stride": None},
    "dense": {"units": _REQUIRED, "activation": "relu", "dropout": 0.0},
    "softmax": {"dropout": 0.0},
}

DEFAULT_SPEC: dict[str, Any] = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {
            "type": "conv",
            "filters": 20,
            "kernel": 5,
            "stride": 1,
            "padding": 0,
            "activation": "relu",
        },
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "conv", "filters": 40, "kernel": 5, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 100, "activation": "relu", "dropout": 0.0},
        {"type": "softmax"},
    ],
}


@dataclass(frozen=True)
class LayerInfo:
    """One layer's place in the network, as a summary or an editor shows it."""

    index: int
    type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    layer: dict[str, Any]

    def param(self, key: str) -> str:
        """The name of this layer's parameter `key` ("weight", "bias")."""
        return param_name(self.index, key)


def param_name(index: int, key: str) -> str:
    """The one spelling of a parameter's name, in `Network.params` and weight files alike:
    ``layers.{index}.{key}``, as PyTorch names an `nn.Sequential`'s."""
    return f"layers.{index}.{key}"


def shape_text(shape: Any) -> str:
    """A shape as users read it: 20×24×24."""
    return "×".join(map(str, shape))


def default_spec() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_SPEC)


def default_spec_for(input_shape: Sequence[int], classes: int) -> dict[str, Any]:
    """The default network fitted to the data; just the output layer for images too small for it
    (the window and the CLI alike)."""
    spec = {**default_spec(), "input": list(input_shape), "classes": classes}
    return spec if not validate(spec) else {**spec, "layers": [{"type": "softmax"}]}


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a spec from JSON and check it, so a bad file fails here and not mid-build."""
    name = os.fspath(path)
    try:
        text = read_regular(path, MAX_SPEC_BYTES, lambda why: SpecError([why]), "spec file")
        spec = jsontext.parse(text, lambda why: SpecError([f"{name}: {why}"]))
    except SpecError:
        if _is_weight_file(path):  # not "is not UTF-8 text": the network is in there, but as weights
            raise SpecError([
                f"{name}: is a weight file, not a network spec; it goes with --resume or evaluate "
                "(the window's Open Weights)"
            ]) from None
        raise
    try:
        return normalize(spec)
    except SpecError as exc:  # the file named once, before the first of its problems
        raise SpecError([f"{name}: {exc.problems[0]}", *exc.problems[1:]]) from None


def _is_weight_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` starts as a safetensors file does: an 8-byte header length, then JSON."""
    try:
        with open_regular(path, SpecError) as f:  # a named pipe refused, never waited on
            head = f.read(10)
    except (SpecError, OSError):
        return False
    return len(head) == 10 and head[8:] == b'{"'


def save_spec(spec: dict[str, Any], path: str | os.PathLike[str]) -> None:
    check_output_path(path)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(normalize(spec), f, indent=2)
        f.write("\n")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_WHOLE


def _at_most(v: Any) -> str:
    """The upper bound, said only to someone who went past it."""
    return f" and at most {MAX_WHOLE:,}" if isinstance(v, int) and abs(v) > MAX_WHOLE else ""


def _show(v: Any) -> str:
    """A value from the spec, as a message quotes it: cut short, since it came from a file."""
    return clip(repr(v), 60)


def _pair(v: Any) -> tuple[int, int] | None:
    if _is_int(v):
        return (v, v)
    if isinstance(v, list | tuple) and len(v) == 2 and all(_is_int(e) for e in v):
        return (v[0], v[1])
    return None


def _check_layer(i: int, raw: Any, problems: list[str]) -> dict[str, Any] | None:
    """Fill defaults and check one layer's fields; returns None when its shape can't be known."""
    if not isinstance(raw, dict):
        problems.append(f"layer {i}: must be an object with a 'type', got {_show(raw)}")
        return None
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        problems.append(f"layer {i}: unknown type {_show(kind)} (choose one of {', '.join(LAYER_TYPES)})")
        return None
    where = f"layer {i} ({kind})"
    fields = FIELDS[kind]
    layer: dict[str, Any] = {"type": kind}
    ok = True
    for key in raw:
        if key == "type" or key in fields:
            continue
        if key == "dropout":
            problems.append(f"{where}: dropout is offered on dense and softmax layers only")
        else:
            problems.append(f"{where}: unknown field {_show(key)} (fields: {', '.join(fields)})")
        ok = False
    for key, default in fields.items():
        if key not in raw:
            if default is _REQUIRED:
                problems.append(f"{where}: {key} is required")
                ok = False
                continue
            layer[key] = default
            continue
        layer[key] = raw[key]

    def bad(message: str) -> None:
        nonlocal ok
        problems.append(f"{where}: {message}")
        ok = False

    def positive_int(key: str) -> None:
        v = layer.get(key)
        if key in layer and not (_is_int(v) and v >= 1):
            bad(f"{key} must be a whole number ≥ 1{_at_most(v)}, got {_show(v)}")

    def positive_pair(key: str) -> None:
        """A whole number n (meaning n×n) or [height, width], normalised to the pair."""
        if key not in layer:
            return
        v = _pair(layer[key])
        if v is None or min(v) < 1:
            bad(f"{key} must be a whole number ≥ 1 or [height, width], got {_show(layer[key])}")
        else:
            layer[key] = list(v)

    if kind == "conv":
        positive_int("filters")
        positive_int("stride")
        positive_pair("kernel")
        p = layer["padding"]
        if p == "same":
            if layer["stride"] != 1:
                bad("padding 'same' needs stride 1")
        elif not (_is_int(p) and p >= 0):
            bad(f"padding must be a whole number ≥ 0 or 'same', got {_show(p)}")
    elif kind == "pool":
        positive_pair("size")
        if layer["stride"] is None:
            layer["stride"] = layer.get("size")
        else:
            positive_pair("stride")
        if layer["mode"] not in POOL_MODES:
            bad(f"mode must be one of {', '.join(POOL_MODES)}, got {_show(layer['mode'])}")
    elif kind == "dense":
        positive_int("units")
    if "activation" in layer and isinstance(layer["activation"], Custom):
        if kind != "dense":
            bad(f"a custom activation ({layer['activation']}) is offered on dense layers only")
    elif "activation" in layer and layer["activation"] not in ACTIVATIONS:
        bad(f"unknown activation {_show(layer['activation'])} (choose one of {', '.join(ACTIVATIONS)})")
    if "dropout" in layer:
        d = layer["dropout"]
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            bad(f"dropout must be a probability in [0, 1), got {_show(d)}")
        else:
            layer["dropout"] = float(d)
    return layer if ok else None


def conv_padding(layer: dict[str, Any]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right); 'same' puts any odd pixel at the bottom/right, like PyTorch."""
    kh, kw = layer["kernel"]
    if layer["padding"] == "same":
        return ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
    p = layer["padding"]
    return (p, p, p, p)


def _output_shape(
    where: str, layer: dict[str, Any], shape: tuple[int, ...], classes: int
) -> tuple[tuple[int, ...], int] | str:
    """The layer's output shape and parameter count, or the reason it has none."""
    kind = layer["type"]
    if kind in ("dense", "softmax"):
        n_in = math.prod(shape)
        n_out = layer["units"] if kind == "dense" else classes
        return (n_out,), n_in * n_out + n_out
    if len(shape) != 3:
        return f"{where}: needs feature maps as input, but follows a layer with a flat output"
    c, h, w = shape
    if kind == "conv":
        kh, kw = layer["kernel"]
        top, bottom, left, right = conv_padding(layer)
        hp, wp = h + top + bottom, w + left + right
        if kh > hp or kw > wp:
            pad = f" (padding {layer['padding']})" if layer["padding"] else ""
            return f"{where}: kernel {kh}×{kw} does not fit its {h}×{w} input{pad}"
        s = layer["stride"]
        out = (layer["filters"], (hp - kh) // s + 1, (wp - kw) // s + 1)
        return out, layer["filters"] * (c * kh * kw + 1)
    (ph, pw), (sh, sw) = layer["size"], layer["stride"]
    if ph > h or pw > w:
        return f"{where}: pool window {ph}×{pw} does not fit its {h}×{w} input"
    return (c, (h - ph) // sh + 1, (w - pw) // sw + 1), 0


def check(spec: Any) -> tuple[dict[str, Any] | None, list[LayerInfo], list[str]]:
    """Normalise `spec`, infer every layer it can, and collect every problem at once."""
    problems: list[str] = []
    if not isinstance(spec, dict):
        return None, [], [f"a network spec must be an object, got {type(spec).__name__}"]
    for key in spec:
        if key not in ("input", "classes", "layers"):
            problems.append(f"unknown top-level field {_show(key)} (fields: input, classes, layers)")
    shape_in = spec.get("input")
    if not (
        isinstance(shape_in, list | tuple)
        and len(shape_in) == 3
        and all(_is_int(v) and v >= 1 for v in shape_in)
    ):
        problems.append(f"input must be [channels, height, width], each ≥ 1, got {_show(shape_in)}")
        shape_in = None
    classes = spec.get("classes")
    if not (_is_int(classes) and classes >= 2):
        problems.append(f"classes must be a whole number ≥ 2{_at_most(classes)}, got {_show(classes)}")
        classes = None
    raw_layers = spec.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        problems.append("layers must be a non-empty list ending in a softmax layer")
        raw_layers = []
    elif len(raw_layers) > MAX_LAYERS:
        problems.append(f"a network has at most {MAX_LAYERS} layers, this one has {len(raw_layers):,}")
        raw_layers = []

    layers = [_check_layer(i, raw, problems) for i, raw in enumerate(raw_layers)]
    for i, raw in enumerate(raw_layers):
        is_softmax = isinstance(raw, dict) and raw.get("type") == "softmax"
        if is_softmax and i != len(raw_layers) - 1:
            problems.append(f"layer {i} (softmax): softmax must be the last layer")
    if raw_layers and not (isinstance(raw_layers[-1], dict) and raw_layers[-1].get("type") == "softmax"):
        problems.append(f"layer {len(raw_layers) - 1}: the last layer must be softmax")

    infos: list[LayerInfo] = []
    shape = tuple(shape_in) if shape_in else None
    for i, layer in enumerate(layers):
        if layer is None or shape is None or classes is None:
            break
        result = _output_shape(f"layer {i} ({layer['type']})", layer, shape, classes)
        if isinstance(result, str):
            problems.append(result)
            break
        out, n_params = result
        infos.append(LayerInfo(i, layer["type"], shape, out, n_params, layer))
        shape = out
    if problems:
        return None, infos, problems
    normal = {"input": list(shape_in), "classes": classes, "layers": layers}
    return normal, infos, []


def validate(spec: Any) -> list[str]:
    """Every problem with `spec`, each naming the layer and field; empty when it builds."""
    return check(spec)[2]


def normalize(spec: Any) -> dict[str, Any]:
    """The spec with every default filled in; raises :class:`SpecError` listing all problems."""
    normal, _, problems = check(spec)
    if problems:
        raise SpecError(problems)
    return normal


def infer(spec: Any) -> list[LayerInfo]:
    """Every layer's input/output shape and parameter count; raises :class:`SpecError`."""
    _, infos, problems = check(spec)
    if problems:
        raise SpecError(problems)
    return infos


def describe(layer: dict[str, Any]) -> str:
    """A one-line description of a layer's settings, as the summary and the editor list show."""
    kind = layer["type"]
    if kind == "conv":
        kh, kw = layer["kernel"]
        return (
            f"{plural(layer['filters'], 'filter')} {kh}×{kw}, stride {layer['stride']}, "
            f"padding {layer['padding']}, {layer['activation']}"
        )
    if kind == "pool":
        stride = shape_text(layer["stride"]) if len(set(layer["stride"])) > 1 else layer["stride"][0]
        return f"{layer['mode']} {shape_text(layer['size'])}, stride {stride}"
    drop = f", dropout {layer['dropout']:g}" if layer.get("dropout") else ""
    if kind == "dense":
        return f"{plural(layer['units'], 'unit')}, {layer['activation']}{drop}"
    return f"log-likelihood cost{drop}"


def summary(spec: Any) -> str:
    """A Keras-style table of layers, output shapes and parameter counts."""
    normal = normalize(spec)
    infos = infer(normal)
    rows = [("#", "layer", "settings", "output shape", "params")]
    rows.append(("", "input", "", shape_text(normal["input"]), ""))
    for info in infos:
        rows.append(
            (
                str(info.index),
                info.type,
                describe(info.layer),
                shape_text(info.output_shape),
                f"{info.params:,}",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[c].ljust(widths[c]) if c < 4 else row[c].rjust(widths[c]) for c in range(5)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    total = sum(i.params for i in infos)
    lines.append("-" * len(lines[0]))
    lines.append(f"total parameters: {total:,}")
    return "\n".join(lines)
