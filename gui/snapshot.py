"""What the filter and feature-map views draw, copied to the host in one place: the worker takes
it while training, the window while the network is idle. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import Network


@dataclass(frozen=True)
class Snapshot:
    """Host copies of every conv layer's kernels and one test image's feature maps."""

    kernels: dict[int, np.ndarray]
    sample_index: int
    maps: list[np.ndarray]


def take_snapshot(net: Network, images: np.ndarray, index: int) -> Snapshot:
    """Copy what the live views draw; only call it where nothing else is using `net`."""
    kernels = {
        info.index: net.backend.to_host(net.params[info.param("weight")]).copy()
        for info in net.infos
        if info.type == "conv"
    }
    maps = [m[0] for m in net.feature_maps(images[index : index + 1])]
    return Snapshot(kernels, index, maps)
