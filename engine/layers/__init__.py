"""The layers of a conv-pool-fc network; each module holds one layer's forward and backward."""

from __future__ import annotations

from engine.backend import Backend
from engine.layers.base import Layer
from engine.layers.conv import Conv
from engine.layers.dense import Dense, Softmax
from engine.layers.pool import Pool
from engine.spec import LayerInfo

_TYPES: dict[str, type[Layer]] = {"conv": Conv, "pool": Pool, "dense": Dense, "softmax": Softmax}


def make_layer(info: LayerInfo, backend: Backend) -> Layer:
    return _TYPES[info.type](info, backend)


__all__ = ["Conv", "Dense", "Layer", "Pool", "Softmax", "make_layer"]
