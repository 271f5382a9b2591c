"""The device the engine's tests run on, chosen once for the whole run.

`python -m pytest` tests NumPy. `--device gpu` (or CONVSCOPE_DEVICE=gpu) runs the same tests on
CuPy, and `--device strict` on the test backend that refuses host/device mix-ups as CuPy does, so
a test that would break on a GPU is caught here without one. Tests about the CPU itself (its
thread split) pin "cpu" instead of taking the fixture.

No test may fail because the machine is busy: Hypothesis would fail an example that runs past
200 ms of wall-clock time, or a strategy slow to generate data, and on a shared 2-core machine
both happen to correct code, so neither is checked (a test that lists its own
suppress_health_check lists too_slow as well)."""

import os

import pytest
from hypothesis import HealthCheck, settings
from strict_backend import STRICT

from engine.backend import Backend, get_backend
from engine.data import Dataset, load_dataset
from engine.network import Network

_BUILT_ON_DEVICE: set[str] = set()

settings.register_profile("busy-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("busy-machine")


def pytest_addoption(parser: pytest.Parser) -> None:
    default = os.environ.get("CONVSCOPE_DEVICE", "cpu")
    parser.addoption(
        "--device",
        choices=("cpu", "gpu", "strict", "auto"),
        default=default if default in ("cpu", "gpu", "auto") else "cpu",
        help="the backend the engine's tests build networks on (default: $CONVSCOPE_DEVICE or cpu)",
    )


@pytest.fixture(scope="session")
def mnist() -> Dataset:
    """The built-in 5,000-image MNIST sample, loaded once for the whole run."""
    return load_dataset()


@pytest.fixture(scope="session")
def small_train(mnist) -> tuple:
    """300 training images and their labels: a few batches, trained in well under a second."""
    return mnist.train.x[:300], mnist.train.y[:300]


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> Backend:
    name = pytestconfig.getoption("--device")
    return STRICT if name == "strict" else get_backend(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Notes each test that built a network on the chosen device, so a GPU run says how much of
    the suite really ran there (tests of the CPU's own threads, and the CLI's subprocesses, do not)."""
    chosen = item.config.getoption("--device")
    if chosen == "cpu":
        return (yield)
    init = Network.__init__

    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self.backend.name == chosen:
            _BUILT_ON_DEVICE.add(item.nodeid)

    Network.__init__ = counting_init
    try:
        return (yield)
    finally:
        Network.__init__ = init


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    chosen = config.getoption("--device")
    if chosen != "cpu":
        terminalreporter.write_line(f"{len(_BUILT_ON_DEVICE)} tests built a network on device {chosen!r}")


@pytest.fixture(autouse=True)
def _unpinned_networks_use_the_strict_backend(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch):
    """Under `--device strict`, a network built with no device (and no $CONVSCOPE_DEVICE) lands
    on the strict backend too, as it lands on the GPU under `--device gpu` with CONVSCOPE_DEVICE=gpu."""
    if pytestconfig.getoption("--device") != "strict":
        return
    import engine.network

    real = engine.network.get_backend

    def strict_by_default(device=None):
        if device in (None, "auto") and not os.environ.get("CONVSCOPE_DEVICE"):
            return STRICT
        return real(device)

    monkeypatch.setattr(engine.network, "get_backend", strict_by_default)


@pytest.fixture(params=["compiled", "numpy"])
def host_kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with the host's compiled kernels and again with the NumPy code they replace
    (the first skipped where Numba is not installed). Layers must ask `jit.enabled()` through the
    module, as this switches it there."""
    from engine import jit

    if request.param == "compiled" and not jit.enabled():
        pytest.skip("Numba is not installed here")
    if request.param == "numpy":
        monkeypatch.setattr(jit, "enabled", lambda: False)
    return request.param
