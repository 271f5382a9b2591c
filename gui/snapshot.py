"""What the filter and feature-map views and the Explain dock draw, copied to the host in one
place: the worker takes it while training, the session while the network is idle. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import Network


@dataclass(frozen=True)
class Snapshot:
    """Host copies of every conv layer's kernels and biases, and one input's feature maps
    (every layer's output, probabilities last): the user's own `image` (C, H, W) when there
    is one, else test image `sample_index`."""

    kernels: dict[int, np.ndarray]
    sample_index: int
    maps: list[np.ndarray]
    biases: dict[int, np.ndarray]
    image: np.ndarray | None = None


def take_snapshot(net: Network, images: np.ndarray, index: int, own: np.ndarray | None = None) -> Snapshot:
    """Copy what the live views draw, of test image `index` or the user's `own` image; only
    call it where nothing else is using `net`."""
    convs = [info for info in net.infos if info.type == "conv"]

    def host(name: str) -> dict[int, np.ndarray]:
        return {info.index: net.backend.to_host(net.params[info.param(name)]).copy() for info in convs}

    x = images[index : index + 1] if own is None else own[None]
    maps = [m[0] for m in net.feature_maps(x)]
    return Snapshot(host("weight"), index, maps, host("bias"), own)
