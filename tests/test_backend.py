"""Backends: the strict test backend refuses what CuPy refuses and trains exactly as NumPy does;
a GPU asked for where none works is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from small_network import SMALL
from strict_backend import STRICT, HostDeviceMixup

from engine import (
    SGD,
    Adam,
    DeviceError,
    Network,
    fit,
    get_backend,
)
from engine import backend as backend_module


def test_strict_backend_refuses_what_cupy_refuses():
    a = STRICT.to_device(np.ones(3, dtype=np.float32))
    with pytest.raises(HostDeviceMixup):
        np.asarray(a)
    with pytest.raises(HostDeviceMixup):
        a + np.ones(3)
    with pytest.raises(HostDeviceMixup):
        np.concatenate([a, a])
    assert STRICT.to_host(a * 2 + 1).tolist() == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("optimizer", [SGD(lr=0.05, momentum=0.9, l2=1e-3), Adam(lr=1e-3, l2=1e-4)])
def test_training_on_a_strict_device_matches_numpy_exactly(small_train, optimizer):
    """The whole training step, evaluation and feature maps stay on the device."""
    runs = []
    for device in ("cpu", STRICT):
        net = Network(SMALL, seed=4, device=device)
        opt = type(optimizer)(**{k: v for k, v in optimizer.config().items() if k != "name"})
        history = fit(net, small_train, epochs=2, batch_size=64, optimizer=opt, validation=small_train)
        maps = net.feature_maps(small_train[0][:2])
        runs.append((history, net.state_dict(), maps, net.predict_proba(small_train[0][:20])))
    (ha, pa, ma, qa), (hb, pb, mb, qb) = runs
    assert ha.batch_loss == hb.batch_loss
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert all(np.array_equal(x, y) for x, y in zip(ma, mb, strict=True))
    assert np.array_equal(qa, qb)


def test_gpu_request_without_one_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backend_module, "gpu_unavailable_reason", lambda: "CuPy is not installed")
    with pytest.raises(DeviceError, match="GPU requested but unavailable: CuPy is not installed"):
        get_backend("gpu")
    assert get_backend("auto").name == "cpu"
    monkeypatch.setenv("CONVSCOPE_DEVICE", "cpu")
    assert Network(SMALL).backend.name == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        get_backend("tpu")


def test_the_hosts_array_module_looks_each_numpy_name_up_once(monkeypatch):
    module = type(backend_module.NUMPY.xp)()
    looked_up = []
    real = type(module).__getattr__
    counted = lambda self, name: looked_up.append(name) or real(self, name)  # noqa: E731
    monkeypatch.setattr(type(module), "__getattr__", counted)
    assert module.add is np.add and module.add is np.add and module.float32 is np.float32
    assert looked_up == ["add", "float32"]
