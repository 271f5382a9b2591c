"""What every layer offers the network: parameter shapes, forward, backward."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from engine.backend import Backend
from engine.spec import LayerInfo


class Layer(ABC):
    """A layer holds its settings only; parameters live in the network's `params` dict."""

    def __init__(self, info: LayerInfo, backend: Backend):
        self.info = info
        self.backend = backend
        self.xp = backend.xp
        self.input_shape = info.input_shape
        self.output_shape = info.output_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    @abstractmethod
    def forward(self, x: Any, params: dict[str, Any], train: bool, rng: Any) -> tuple[Any, Any]:
        """Return the layer's output and what its backward pass needs."""

    @abstractmethod
    def backward(
        self, grad: Any, cache: Any, params: dict[str, Any], need_dx: bool
    ) -> tuple[Any, dict[str, Any]]:
        """Return dL/dinput (None when `need_dx` is false) and dL/dparam for each parameter."""
