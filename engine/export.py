"""Exporting a trained network for other runtimes: the entry points the CLI (a weight file) and the
window (the network it holds) call, writing through `onnx_export` and `torch_export`."""

from __future__ import annotations

import os

from engine.network import Network
from engine.onnx_export import save_onnx
from engine.output_path import check_output_path
from engine.torch_export import save_torch
from engine.weights import load


def export(
    model: str | os.PathLike[str],
    *,
    onnx: str | os.PathLike[str] | None = None,
    torch: str | os.PathLike[str] | None = None,
) -> None:
    """Write the network in weight file `model` as an ONNX file and/or PyTorch source; both paths
    are checked first, so a bad second one leaves no first file behind."""
    export_network(load(model, device="cpu"), onnx=onnx, torch=torch, weights=model)


def export_network(
    net: Network,
    *,
    onnx: str | os.PathLike[str] | None = None,
    torch: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
) -> None:
    """Write `net` as an ONNX file and/or PyTorch source whose `load()` reads weight file
    `weights` (which must hold `net`'s weights), the paths checked first."""
    if torch is not None and weights is None:
        raise ValueError("PyTorch source needs the weight file its load() reads")
    for path in (onnx, torch):
        if path is not None:
            check_output_path(path)
    if onnx is not None:
        save_onnx(net, onnx)
    if torch is not None:
        save_torch(net, torch, weights)
