"""Carrying learned weights over an edit: a layer keeps its tensors when it is the same layer
(by the editor's id) and all their shapes are unchanged; every other layer starts afresh."""

from __future__ import annotations

from engine import Network


def carry_over(old: Network, old_ids: list[int], new: Network, new_ids: list[int]) -> list[int]:
    """Copy `old`'s weights into `new` where they still fit; returns the indices of the layers
    of `new` that have parameters and keep their fresh initialisation."""
    old_index = {layer_id: i for i, layer_id in enumerate(old_ids)}
    old_state = old.state_dict()
    state = new.state_dict()
    layers = sorted({int(name.split(".")[1]) for name in state})
    kept = []
    for i in layers:
        source = old_index.get(new_ids[i])
        names = [name for name in state if name.startswith(f"layers.{i}.")]
        moved = {name: old_state.get(f"layers.{source}.{name.split('.')[2]}") for name in names}
        if source is not None and all(v is not None and v.shape == state[n].shape for n, v in moved.items()):
            state.update(moved)
            kept.append(i)
    new.load_state_dict(state)
    if kept:
        new.metadata = dict(old.metadata)
    return [i for i in layers if i not in kept]
