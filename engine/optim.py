"""Optimizers: SGD with momentum and Adam, both with L2 weight decay on weights (not biases).

The learning rate is passed to each step, so a schedule or the window can change it between
batches without touching the optimizer's state. The constructors' defaults are the project's one
set: the recipe (engine/recipe.py says why these), the CLI, the window and a bare `fit` use them."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from engine.backend import Backend
from engine.errors import SettingError, clip

#: More steps than any run takes; beyond it Adam's bias correction (β**steps) is not computable.
MAX_STEPS = 10**15

#: Each optimizer setting's range: (lowest, whether the lowest itself is allowed, the bound above).
#: Every value must also be finite: an infinite or NaN rate would overflow the weights at once.
SETTINGS = {
    "lr": (0.0, False, math.inf),
    "momentum": (0.0, True, 1.0),
    "l2": (0.0, True, math.inf),
    "beta1": (0.0, True, 1.0),
    "beta2": (0.0, True, 1.0),
    "eps": (0.0, False, math.inf),
}


def setting_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be the optimizer setting `name`, or None: the one rule the command line,
    the window, `TrainingControl.set_lr`, the optimizers and the weight files share (a setting may
    come from a file, and β₁ = 1 or lr = NaN would otherwise fail only mid-run)."""
    low, low_ok, high = SETTINGS[name]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return f"{name} must be a number, got {clip(repr(value), 40)}"
    value = float(value)
    if not math.isfinite(value):
        return f"{name} must be a finite number, got {value}"
    if value < low or (value == low and not low_ok) or value >= high:
        where = f"≥ {low:g}" if low_ok else f"> {low:g}"
        where += f" and < {high:g}" if math.isfinite(high) else ""
        return f"{name} must be {where}, got {value:g}"
    return None


def check_setting(name: str, value: Any) -> float:
    """`value` as a float when :func:`setting_problem` finds nothing, else :class:`SettingError`."""
    problem = setting_problem(name, value)
    if problem:
        raise SettingError(problem)
    return float(value)


def _decays(name: str) -> bool:
    return name.endswith(".weight")


class Optimizer(ABC):
    """Holds per-parameter state on the parameters' device and updates them in place."""

    name = "optimizer"
    #: The state it keeps per parameter, stored as ``{param}.{slot}``.
    slots: tuple[str, ...] = ()
    #: Whether :meth:`update` does only device work once its slots exist, so a captured step
    #: can replay it (the learning rate given as a device scalar); Adam's bias correction is
    #: host arithmetic on the step count.
    capturable = False
    #: Whether every slot enters its parameter's update in the same step (param -= lr·slot), so
    #: a non-finite slot leaves a non-finite parameter and a health check need not read the slots.
    slots_reach_params = False

    def __init__(self, lr: float, l2: float = 0.0):
        self.lr = check_setting("lr", lr)
        self.l2 = check_setting("l2", l2)
        self.steps = 0
        self.state: dict[str, Any] = {}

    def _grad(self, name: str, param: Any, grad: Any) -> Any:
        if self.l2 and _decays(name):
            return grad + self.l2 * param
        return grad

    def step(self, params: dict[str, Any], grads: dict[str, Any], lr: Any = None, fused: Any = None) -> None:
        """Count a step and update every parameter in place."""
        self.steps += 1
        self.update(params, grads, lr, fused)

    def update(
        self, params: dict[str, Any], grads: dict[str, Any], lr: Any = None, fused: Any = None
    ) -> None:
        """Update every parameter in place without counting the step: the part of a step a
        captured training step replays. `lr` is a number or a 0-d device array; `fused` is the
        backend's fused kernels (:attr:`engine.backend.Backend.fused`), for optimizers that
        have one."""
        lr = self.lr if lr is None else lr
        for name, param in params.items():
            self._update(name, param, self._grad(name, param, grads[name]), lr)

    @abstractmethod
    def _update(self, name: str, param: Any, grad: Any, lr: float) -> None:
        """Update `param` in place from its (decayed) gradient."""

    @staticmethod
    def slot(param: str, slot: str) -> str:
        return f"{param}.{slot}"

    def state_shapes(self, param_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """The shape of every state tensor this optimizer may keep, so a file can be checked."""
        return {self.slot(p, s): shape for p, shape in param_shapes.items() for s in self.slots}

    def config(self) -> dict[str, Any]:
        """What recreates this optimizer (its state aside)."""
        return {"name": self.name, "lr": self.lr, "l2": self.l2}

    def state_dict(self, backend: Backend) -> dict[str, np.ndarray]:
        """Host copies of the per-parameter state, keyed `{param}.{slot}`, for weight files."""
        return {k: backend.to_host(v).copy() for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, np.ndarray], steps: int, backend: Backend) -> None:
        if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be a whole number from 0 to {MAX_STEPS:,}, got {clip(steps, 40)}")
        self.state = {k: backend.to_device(v) for k, v in state.items()}
        self.steps = steps


class SGD(Optimizer):
    """Mini-batch stochastic gradient descent, optionally with (heavy-ball) momentum."""

    name = "sgd"
    slots = ("velocity",)
    capturable = True
    slots_reach_params = True

    def __init__(self, lr: float = 0.03, momentum: float = 0.9, l2: float = 1e-4):
        super().__init__(lr, l2)
        self.momentum = check_setting("momentum", momentum)

    def update(self, params, grads, lr=None, fused=None):
        if fused is None:
            super().update(params, grads, lr)
            return
        velocities = None
        if self.momentum:
            velocities = []
            for name, param in params.items():
                velocity = self.state.get(self.slot(name, "velocity"))
                if velocity is None:  # from zero, the first step's velocity is its gradient
                    velocity = self.state[self.slot(name, "velocity")] = param.copy()
                    velocity.fill(0)
                velocities.append(velocity)
        l2s = [self.l2 if _decays(name) else 0.0 for name in params]
        fused.sgd_all(
            list(params.values()), [grads[name] for name in params], velocities,
            self.lr if lr is None else lr, self.momentum, l2s,
        )

    def _update(self, name, param, grad, lr):
        if not self.momentum:
            param -= lr * grad
            return
        key = self.slot(name, "velocity")
        v = self.state.get(key)
        if v is None:
            v = self.state[key] = grad.copy()
        else:
            v *= self.momentum
            v += grad
        param -= lr * v

    def config(self):
        return {**super().config(), "momentum": self.momentum}


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        l2: float = 1e-4,
    ):
        super().__init__(lr, l2)
        self.beta1 = check_setting("beta1", beta1)
        self.beta2 = check_setting("beta2", beta2)
        self.eps = check_setting("eps", eps)

    def update(self, params, grads, lr=None, fused=None):
        adam_all = getattr(fused, "adam_all", None)  # the host's compiled kernels; no GPU one
        if adam_all is None:
            super().update(params, grads, lr)
            return
        moments = [self._moments(name, param) for name, param in params.items()]
        adam_all(
            list(params.values()), [grads[name] for name in params], [m for m, _ in moments],
            [v for _, v in moments], self._step_size(self.lr if lr is None else lr), self.beta1,
            self.beta2, self.eps, [self.l2 if _decays(name) else 0.0 for name in params],
        )

    def _moments(self, name: str, param: Any) -> tuple[Any, Any]:
        """The parameter's first and second moments, zero before its first step."""
        m_key, v_key = self.slot(name, "m"), self.slot(name, "v")
        if m_key not in self.state:
            self.state[m_key], self.state[v_key] = param * 0, param * 0
        return self.state[m_key], self.state[v_key]

    def _step_size(self, lr: float) -> float:
        """The learning rate with this step's bias correction."""
        t = self.steps
        return lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)

    def _update(self, name, param, grad, lr):
        m, v = self._moments(name, param)
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        param -= self._step_size(lr) * m / (v**0.5 + self.eps)

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}
#: Each optimizer's default learning rate: Adam's normalised steps want one about 30 times
#: smaller than SGD's.
LEARNING_RATES = {kind: cls().lr for kind, cls in OPTIMIZERS.items()}


def make_optimizer(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from its `config()`; a ValueError names any setting it cannot take."""
    config = dict(config)
    kind = config.pop("name", None)
    if not isinstance(kind, str) or kind not in OPTIMIZERS:
        raise ValueError(clip(f"unknown optimizer {kind!r} (choose one of {', '.join(OPTIMIZERS)})", 200))
    cls = OPTIMIZERS[kind]
    allowed = inspect.signature(cls).parameters
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise ValueError(clip(f"{kind} has no setting {unknown[0]!r}", 200))
    return cls(**config)
