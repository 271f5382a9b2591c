"""The default recipe and the optimizers' one set of defaults."""

from __future__ import annotations

import numpy as np
import pytest
from small_network import SMALL

from engine import (
    SGD,
    Adam,
    Network,
    fit,
)
from engine.optim import LEARNING_RATES, OPTIMIZERS
from engine.recipe import DEFAULT_RECIPE, Recipe


def test_recipe_gives_each_optimizer_its_rate_and_continues_one_of_its_kind():
    assert Recipe().lr == 0.03 and Recipe(optimizer="adam").lr == 1e-3
    adam = Recipe(optimizer="adam", l2=0.0).make_optimizer()
    assert isinstance(adam, Adam) and adam.lr == 1e-3
    adam.state["w.m"] = np.ones(2)
    again = Recipe(optimizer="adam", lr=0.01, l2=1e-4).make_optimizer(adam)
    assert again is adam and (adam.lr, adam.l2) == (0.01, 1e-4) and "w.m" in adam.state
    sgd = Recipe(momentum=0.5).make_optimizer(adam)
    assert isinstance(sgd, SGD) and (sgd.lr, sgd.momentum) == (0.03, 0.5)
    assert Recipe(momentum=0.7).make_optimizer(sgd) is sgd and sgd.momentum == 0.7
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        Recipe(optimizer="rmsprop")


def test_one_set_of_optimizer_defaults(small_train, monkeypatch):
    """The recipe, a bare optimizer and a `fit` given none train with the same settings."""
    for kind in ("sgd", "adam"):
        assert Recipe(optimizer=kind).make_optimizer().config() == OPTIMIZERS[kind]().config()
    assert LEARNING_RATES == {"sgd": Recipe().lr, "adam": Recipe(optimizer="adam").lr}
    used = []
    monkeypatch.setattr(SGD, "step", lambda self, *args: used.append(self.config()))
    fit(Network(SMALL, device="cpu"), (small_train[0][:8], small_train[1][:8]), batch_size=8)
    assert used == [DEFAULT_RECIPE.make_optimizer().config()]
