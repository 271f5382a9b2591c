"""Undo and redo of network edits, without Qt. A step keeps the whole network it replaced, its
weights included, so undoing an edit gives back exactly the weights the edit re-initialised or
carried over, and redoing it gives back what training did after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import Network

#: Networks kept for undo; each holds its weights, so the stack is bounded.
DEPTH = 20


@dataclass(frozen=True)
class NetworkState:
    """A network as the session holds it: the object itself (never trained again while it sits
    here: the session trains only its current network), its spec, layer ids, whether it learned
    anything, and the weight file its weights came from (None: none)."""

    net: Network
    spec: dict[str, Any]
    ids: list[int]
    trained: bool
    path: str | None


class EditHistory:
    def __init__(self, depth: int = DEPTH) -> None:
        self._depth = depth
        self._undo: list[NetworkState] = []
        self._redo: list[NetworkState] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def push(self, replaced: NetworkState) -> None:
        """An edit replaced `replaced`: it becomes the one Undo gives back; Redo's list ends."""
        self._undo = [*self._undo, replaced][-self._depth :]
        self._redo.clear()

    def undo(self, current: NetworkState) -> NetworkState:
        state = self._undo.pop()
        self._redo.append(current)
        return state

    def redo(self, current: NetworkState) -> NetworkState:
        state = self._redo.pop()
        self._undo.append(current)
        return state

    def clear(self) -> None:
        """A network that did not come from an edit (file, reset, device, data set): the steps
        before it no longer apply to it."""
        self._undo.clear()
        self._redo.clear()
