"""Exporting a trained network for other runtimes: the one entry point the CLI and the window
call, writing a weight file's network through `onnx_export` and `torch_export`."""

from __future__ import annotations

import os

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
    for path in (onnx, torch):
        if path is not None:
            check_output_path(path)
    net = load(model, device="cpu")
    if onnx is not None:
        save_onnx(net, onnx)
    if torch is not None:
        save_torch(net, torch, model)
