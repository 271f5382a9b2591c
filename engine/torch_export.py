"""A trained network as readable PyTorch source: a `torch.nn.Module` and a `load()` that reads the
`.safetensors` weight file directly, since its tensor names and layouts are already PyTorch's.

The module's `layers[i]` is the spec's layer i (pools and softmax included, so the indices match
the file's `layers.{i}.weight`); `forward` applies the recorded input normalisation, the
activations, dropout (active in `train()` mode only) and padding in the order ConvScope does, and
returns class probabilities; `logits` stops before the softmax, for training with
`torch.nn.CrossEntropyLoss`. ConvScope itself never imports torch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.spec import conv_padding, describe
from engine.weights import recorded_normalization

if TYPE_CHECKING:
    from engine.network import Network

_ACTIVATIONS = {"relu": "F.relu", "sigmoid": "torch.sigmoid", "tanh": "torch.tanh"}


def _floats(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def torch_source(net: Network, weights: str | os.PathLike[str]) -> str:
    """Python source defining `Net` and `load(path=<weights>)` for `net`'s spec."""
    modules, steps = [], []
    flat = False
    for info in net.infos:
        i, layer = info.index, info.layer
        comment = f"  # {info.type}: {describe(layer)}"
        x = "x"
        if info.type == "conv":
            c_in = info.input_shape[0]
            top, bottom, left, right = conv_padding(layer)
            symmetric = top == bottom and left == right
            padding = f", padding={(top, left)}" if symmetric and top + left else ""
            modules.append(
                f"nn.Conv2d({c_in}, {layer['filters']}, kernel_size={tuple(layer['kernel'])}, "
                f"stride={layer['stride']}{padding}),{comment}"
            )
            if not symmetric:  # 'same' with an even kernel: the odd pixel goes bottom/right
                x = f"F.pad(x, ({left}, {right}, {top}, {bottom}))"
        elif info.type == "pool":
            kind = "nn.MaxPool2d" if layer["mode"] == "max" else "nn.AvgPool2d"
            modules.append(f"{kind}({tuple(layer['size'])}, stride={tuple(layer['stride'])}),{comment}")
        else:
            if not flat:
                steps.append("x = torch.flatten(x, 1)")
                flat = True
            if layer.get("dropout"):
                steps.append(f"x = F.dropout(x, {layer['dropout']!r}, self.training)")
            n_in = 1
            for d in info.input_shape:
                n_in *= d
            modules.append(f"nn.Linear({n_in}, {info.output_shape[0]}),{comment}")
        if info.type == "softmax":
            steps.append(f"return self.layers[{i}]({x})")
            continue
        call = f"self.layers[{i}]({x})"
        activation = layer.get("activation")
        if activation in _ACTIVATIONS:
            call = f"{_ACTIVATIONS[activation]}({call})"
        steps.append(f"x = {call}")

    stats = recorded_normalization(net)
    channels, height, width = net.input_shape
    names = (net.metadata.get("dataset") or {}).get("class_names") or [str(c) for c in range(net.classes)]
    norm_init = ""
    if stats is not None:
        norm_init = (
            "\n        # The standardisation the training data had; not in the weight file's tensors.\n"
            f"        self.register_buffer(\"mean\", torch.tensor({_floats(stats[0])}).view(1, -1, 1, 1), "
            "persistent=False)\n"
            f"        self.register_buffer(\"std\", torch.tensor({_floats(stats[1])}).view(1, -1, 1, 1), "
            "persistent=False)"
        )
        steps.insert(0, "x = (x - self.mean) / self.std")
    module_lines = "\n".join(f"            {m}" for m in modules)
    step_lines = "\n".join(f"        {s}" for s in steps)
    return f'''"""A ConvScope network as a PyTorch module, written by `convscope export --torch`.

Input: float32 images of shape (N, {channels}, {height}, {width}), 8-bit pixels divided by 255.
`Net()(x)` gives class probabilities; `Net().logits(x)` the scores before the softmax.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

WEIGHTS = Path(__file__).with_name({Path(weights).name!r})
CLASS_NAMES = {[str(n) for n in names]!r}
SPEC = {json.dumps(net.spec)!r}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # layers[i] is the spec's layer i, so the weight file's names (layers.i.weight) fit as they are.
        self.layers = nn.ModuleList([
{module_lines}
        ])
{norm_init}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
{step_lines}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def load(path=WEIGHTS) -> Net:
    """The network with the trained weights from the ConvScope weight file `path`, in eval mode."""
    tensors = load_file(str(path))
    net = Net()
    # A file saved mid-training also holds the optimizer's state, under "optimizer.".
    net.load_state_dict({{k: v for k, v in tensors.items() if not k.startswith("optimizer.")}})
    return net.eval()
'''


def save_torch(net: Network, path: str | os.PathLike[str], weights: str | os.PathLike[str]) -> None:
    """Write `torch_source` to `path`; its `load()` reads `weights` from the same folder by default."""
    Path(path).write_text(torch_source(net, weights), encoding="utf-8")
