"""The last training state checked finite, kept on the device so a diverging run goes back to it.

An update can overflow even when its gradient was finite (a learning rate of 1e30), so the loop
checks the weights and the optimizer's state the step left, at the host synchronisation it makes
anyway for the loss it reports; a check that passes refreshes this copy with device-to-device
copies only, so no tick costs a synchronisation of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.optim import Optimizer

if TYPE_CHECKING:
    from engine.network import Network


class LastGood:
    """A device copy of `net`'s parameters and `optimizer`'s state and step count."""

    def __init__(self, net: Network, optimizer: Optimizer):
        self._net, self._optimizer = net, optimizer
        self._params = {k: v.copy() for k, v in net.params.items()}
        self._state = {k: v.copy() for k, v in optimizer.state.items()}
        self._steps = optimizer.steps
        self._zeros: Any = None  # the host's health check: zeros as long as the largest array

    def health(self) -> Any:
        """A device scalar, finite only when every parameter and optimizer slot is finite (NaN and
        inf survive `* 0`). The slots are not read where the step's update carries them into the
        parameters (SGD's velocity). On the host each array is a dot product with zeros: a BLAS
        call reads it at memory speed, where NumPy's float32 sum is about three times slower."""
        arrays = list(self._net.params.values())
        if not self._optimizer.slots_reach_params:
            arrays += self._optimizer.state.values()
        if not self._net.backend.on_host:
            return sum(a.sum() * 0 for a in arrays)
        xp = self._net.xp
        if self._zeros is None or self._zeros.size < max(a.size for a in arrays):
            self._zeros = xp.zeros(max(a.size for a in arrays), dtype=self._net.dtype)
        return sum(xp.dot(a.reshape(-1), self._zeros[: a.size]) for a in arrays)

    def keep(self) -> None:
        """Take the current state as the last good one: call it when :meth:`health` was finite."""
        for k, v in self._net.params.items():
            self._params[k][...] = v
        state = self._optimizer.state
        for k, v in state.items():
            if k in self._state:
                self._state[k][...] = v
            else:  # a slot the first step created
                self._state[k] = v.copy()
        self._steps = self._optimizer.steps

    def restore(self) -> None:
        """Put the last good state back, in place: the network's arrays stay the same objects."""
        for k, v in self._params.items():
            self._net.params[k][...] = v
        self._optimizer.state = {k: v.copy() for k, v in self._state.items()}
        self._optimizer.steps = self._steps
