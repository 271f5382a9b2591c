"""What the kernel explainer shows, without Qt: the source (the notes' example or a layer of the
session's network on a test image), the filter, the output cell the window stands on, and the
"what if" stride, padding and pool size. The view renders it and turns clicks into its steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.explain import (
    NOTES_WEIGHTS,
    ConvExplainer,
    Explainer,
    explain_layer,
    notes_example,
    what_if_padding,
)
from engine.layers.conv import Conv
from gui.session import Event
from gui.snapshot import Snapshot

NOTES = -1  # the source index of the notes' example, beside the network's layer indices


@dataclass(frozen=True)
class WhatIf:
    """Geometry that replaces the layer's own: stride (rows, cols), padding (conv only: a
    number on every side, or 'same') and the window size (a conv's kernel, a pool's window;
    None keeps the layer's)."""

    stride: tuple[int, int]
    padding: int | str = 0
    size: tuple[int, int] | None = None


class ExplainerModel:
    def __init__(self) -> None:
        self.changed = Event()
        self.source = NOTES
        self.what_if: WhatIf | None = None
        self.filter = 0
        self.position = 0
        self._network: Any = None
        self._image: Any = None
        self._snapshot: Snapshot | None = None
        self.explainer: Explainer = notes_example()

    # -- what is explained ---------------------------------------------------------------------

    def set_input(self, network: Any, image: Any, snapshot: Snapshot | None = None) -> None:
        """The network and the input (C, H, W) its layers are explained on; the notes' example
        ignores them. A `snapshot` of that input (the session's, or a run's worker's) gives the
        maps and weights, so the explainer neither runs the network nor reads it while it trains."""
        self._network, self._image, self._snapshot = network, image, snapshot
        self._rebuild()

    def choose(self, source: int) -> None:
        """Explain layer `source` of the network, or the notes' example (NOTES); starts over
        at the first cell, with the layer's own geometry."""
        self.source, self.what_if, self.filter, self.position = source, None, 0, 0
        self._rebuild()

    def set_filter(self, f: int) -> None:
        self.filter = min(max(f, 0), self.explainer.filters - 1)
        self.changed.emit()

    def set_what_if(self, what_if: WhatIf | None) -> None:
        """Walk with other geometry (None: the layer's own); a geometry that leaves no output
        has no cells, and the formula says why."""
        self.what_if = what_if
        self._rebuild()

    def own_geometry(self) -> WhatIf:
        """The layer's geometry as a starting point for "what if"."""
        e = self._explain(None)
        padding: int | str = 0
        if isinstance(e, ConvExplainer):
            own = 0 if self.source == NOTES else self._network.spec["layers"][self.source]["padding"]
            padding = "same" if own == "same" else e.rows.before
        return WhatIf((e.rows.s, e.cols.s), padding, (e.rows.k, e.cols.k))

    def _explain(self, what_if: WhatIf | None) -> Explainer:
        if self.source == NOTES:
            if what_if is None:
                return notes_example()
            size = what_if.size or self._own_size()
            return notes_example(what_if.stride, what_if_padding(what_if.padding, size), size)
        shot, index = self._snapshot, self.source
        maps = shot.maps if shot else None
        params = (shot.kernels[index], shot.biases[index]) if shot and index in shot.kernels else None
        if what_if is None:
            return explain_layer(self._network, self._image, index, maps=maps, params=params)
        size = what_if.size or self._own_size()
        return explain_layer(
            self._network,
            self._image,
            index,
            maps=maps,
            params=params,
            stride=what_if.stride,
            padding=what_if_padding(what_if.padding, size),
            size=size,
        )

    def _own_size(self) -> tuple[int, int]:
        """The layer's kernel (conv) or window (pool)."""
        if self.source == NOTES:
            return NOTES_WEIGHTS.shape
        layer = self._network.layers[self.source]
        return tuple(layer.kernel if isinstance(layer, Conv) else layer.size)

    def _rebuild(self) -> None:
        if self.source != NOTES and self._network is None:
            self.source = NOTES
        self.explainer = self._explain(self.what_if)
        self.filter = min(self.filter, self.explainer.filters - 1)
        self.position = min(self.position, max(self.cells - 1, 0))
        self.changed.emit()

    # -- the walk ------------------------------------------------------------------------------

    @property
    def cells(self) -> int:
        out_h, out_w = self.explainer.output_shape
        return out_h * out_w

    @property
    def at(self) -> tuple[int, int]:
        """The output cell (row, col) the window stands on."""
        return divmod(self.position, self.explainer.output_shape[1])

    def cell(self) -> Any:
        return self.explainer.cell(self.filter, *self.at) if self.cells else None

    def step(self, by: int = 1) -> bool:
        """Move the window `by` cells along the walk (left to right, top to bottom); False at
        either end, where it stays."""
        target = self.position + by
        if not 0 <= target < self.cells:
            return False
        self.position = target
        self.changed.emit()
        return True

    def jump(self, row: int, col: int) -> None:
        """Put the window on output cell (row, col)."""
        out_h, out_w = self.explainer.output_shape
        if 0 <= row < out_h and 0 <= col < out_w:
            self.position = row * out_w + col
            self.changed.emit()

    def formulas(self) -> list[str]:
        """The output size formula for rows and for columns, numbers filled in."""
        return [f"rows: {self.explainer.rows.formula()}", f"columns: {self.explainer.cols.formula()}"]
