"""The training settings of one run, as plain values the worker thread can own."""

from __future__ import annotations

from dataclasses import dataclass

from engine import SGD, Adam, Optimizer

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 3
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.0
    l2: float = 0.0
    schedule: str = "constant"

    def make_optimizer(self) -> Optimizer:
        if self.optimizer == "adam":
            return Adam(self.lr, l2=self.l2)
        return SGD(self.lr, momentum=self.momentum, l2=self.l2)
