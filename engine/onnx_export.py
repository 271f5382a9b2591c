"""A trained network as an ONNX graph, so it runs in ONNX Runtime and every tool that reads ONNX.

The graph takes float32 images (N, C, H, W) with pixels scaled as ConvScope loads them (8-bit
pixels / 255) and returns the class probabilities `Network.predict_proba` gives. The input
normalisation recorded in the weight file, if any, is the graph's first node, so callers feed raw
images. Dropout is left out: at inference it is the identity. Needs the optional `onnx` package
(`pip install "convscope[export]"`)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ConvScopeError
from engine.spec import conv_padding
from engine.weights import recorded_normalization

if TYPE_CHECKING:
    from engine.network import Network

#: Old enough for every ONNX Runtime of the last few years, new enough for every operator used.
OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT = "images", "probabilities"
#: How far an exported model's probabilities may be from ConvScope's: float32 sums in another order.
TOLERANCE = 1e-5
_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


class ExportError(ConvScopeError):
    """An export that cannot be made here (a missing optional package); the message says why."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ExportError(
            'exporting to ONNX needs the onnx package: pip install "convscope[export]"'
        ) from None
    return onnx


def to_onnx(net: Network) -> Any:
    """The network as an `onnx.ModelProto`, checked by `onnx.checker`."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    state = net.state_dict()
    current = INPUT

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    stats = recorded_normalization(net)
    if stats is not None:
        shape = (1, -1, 1, 1)
        means = const("normalization.mean", np.reshape(stats[0], shape))
        stds = const("normalization.std", np.reshape(stats[1], shape))
        current = node("Div", [node("Sub", [current, means], "centred"), stds], "normalized")
    flat = False
    for info in net.infos:
        layer, where = info.layer, f"layer{info.index}"
        weights = [const(info.param(k), state[info.param(k)]) for k in ("weight", "bias") if info.params]
        if info.type == "conv":
            top, bottom, left, right = conv_padding(layer)
            current = node(
                "Conv",
                [current, *weights],
                f"{where}.conv",
                kernel_shape=list(layer["kernel"]),
                strides=[layer["stride"]] * 2,
                pads=[top, left, bottom, right],
            )
        elif info.type == "pool":
            current = node(
                "MaxPool" if layer["mode"] == "max" else "AveragePool",
                [current],
                f"{where}.pool",
                kernel_shape=list(layer["size"]),
                strides=list(layer["stride"]),
            )
        else:
            if not flat:
                current = node("Flatten", [current], f"{where}.flatten", axis=1)
                flat = True
            current = node(
                "Gemm",
                [current, *weights],
                f"{where}.gemm",
                transB=1,
            )
        activation = "softmax" if info.type == "softmax" else layer.get("activation")
        if activation == "softmax":
            current = node("Softmax", [current], OUTPUT, axis=1)
        elif activation in _ACTIVATIONS:
            current = node(_ACTIVATIONS[activation], [current], f"{where}.{activation}")

    channels, height, width = net.input_shape
    graph = helper.make_graph(
        nodes,
        "convscope",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", channels, height, width])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", net.classes])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="convscope",
        ir_version=IR_VERSION,
        doc_string="Input: float32 images (N, C, H, W), 8-bit pixels divided by 255. "
        "Output: class probabilities (N, classes).",
    )
    dataset = net.metadata.get("dataset") or {}
    helper.set_model_props(
        model,
        {"spec": json.dumps(net.spec), "class_names": json.dumps(dataset.get("class_names") or [])},
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def save_onnx(net: Network, path: str | os.PathLike[str]) -> None:
    """Write the network to `path` as an `.onnx` file."""
    _onnx().save_model(to_onnx(net), os.fspath(path))


def check_onnx(net: Network, path: str | os.PathLike[str], images: np.ndarray) -> float:
    """Run the `.onnx` file at `path` in ONNX's own reference runtime on `images` (as the graph
    takes them: unstandardised) and compare with `net.predict_proba`; the largest difference in
    a probability, or :class:`ExportError` when it is beyond `TOLERANCE`."""
    onnx = _onnx()
    from onnx.reference import ReferenceEvaluator

    x = np.ascontiguousarray(images, dtype=np.float32)
    got = ReferenceEvaluator(onnx.load(os.fspath(path))).run(None, {INPUT: x})[0]
    stats = recorded_normalization(net)
    if stats is not None:
        means, stds = (np.asarray(s, np.float32)[:, None, None] for s in stats)
        x = (x - means) / stds
    difference = float(np.abs(got - net.predict_proba(x)).max(initial=0.0))
    if not difference <= TOLERANCE:  # NaN too
        raise ExportError(
            f"{path}: ONNX's reference runtime gives probabilities {difference:.2g} away from "
            f"ConvScope's (more than {TOLERANCE:g}); the file does not reproduce the network."
        )
    return difference
