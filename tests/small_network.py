"""A small network that exercises every layer kind, and a callback that records what a run
reports: shared by the engine's tests."""

from __future__ import annotations

from engine import Callback

SMALL = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {"type": "conv", "filters": 4, "kernel": 5, "padding": "same"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "activation": "tanh"},
        {"type": "pool", "mode": "mean", "size": 3, "stride": 2},
        {"type": "dense", "units": 16, "dropout": 0.3},
        {"type": "softmax", "dropout": 0.1},
    ],
}


class Recorder(Callback):
    def __init__(self, on_batch=None):
        self.batches, self.epochs, self.ended = [], [], None
        self.on_batch = on_batch

    def on_batch_end(self, info):
        self.batches.append(info)
        if self.on_batch:
            self.on_batch(info)

    def on_epoch_end(self, info):
        self.epochs.append(info)

    def on_train_end(self, history):
        self.ended = history
