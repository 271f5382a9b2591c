"""A batch split over host threads gives the gradients, losses and predictions of the whole."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from small_network import SMALL
from threadpoolctl import threadpool_info

from engine import SGD, Network, fit, load_dataset
from engine.backend import NUMPY
from engine.parallel import INLINE, MIN_PART, THREADS_VAR, Threads, default_threads, host_threads

NO_DROPOUT = {
    **SMALL,
    "layers": [{**layer, "dropout": 0.0} if "dropout" in layer else layer for layer in SMALL["layers"]],
}


@pytest.fixture(scope="module")
def batch():
    data = load_dataset("mnist-5k")
    return data.train.x[:96], data.train.y[:96]


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@given(n=st.integers(0, 3000), count=st.integers(1, 8), min_part=st.sampled_from([1, MIN_PART, 50]))
def test_slices_cover_the_batch_in_order_with_parts_of_useful_size(n, count, min_part):
    slices = Threads(count).slices(n, min_part)
    assert slices[0].start == 0 and slices[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(slices[:-1], slices[1:], strict=True))
    assert 1 <= len(slices) <= count
    if len(slices) > 1:
        sizes = [s.stop - s.start for s in slices]
        assert min(sizes) >= min_part and max(sizes) - min(sizes) <= 1


def test_parts_run_on_their_own_threads_the_first_on_the_caller():
    together = threading.Barrier(3, timeout=5)  # proves the three parts run at once

    def part(p, rows):
        together.wait()
        return p, rows, threading.get_ident()

    seen = Threads(3).map(part, 30)
    assert [p for p, _, _ in seen] == [0, 1, 2]
    assert seen[0][2] == threading.get_ident()
    assert len({ident for _, _, ident in seen}) == 3


def test_a_failing_part_raises_only_after_every_part_has_finished():
    finished = []

    def part(p, rows):
        if p == 0:
            raise ValueError("part 0 failed")
        threading.Event().wait(0.2)
        finished.append(p)

    with pytest.raises(ValueError, match="part 0 failed"):
        Threads(2).map(part, 20)
    assert finished == [1]


def test_the_callers_numpy_error_state_reaches_the_other_threads():
    def part(p, rows):
        return np.float32(3e38) * np.float32(10)

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        Threads(2).map(part, 20)


def test_split_gradients_match_the_whole_batch(batch):
    net = Network(NO_DROPOUT, seed=3, device="cpu", dtype=np.float64)
    x, y = net.backend.to_device(batch[0], dtype=np.float64), net.labels(batch[1])
    rngs = [net.backend.rng(p) for p in range(3)]
    whole = net.batch_gradients(x, y, rngs, Threads(1))
    split = net.batch_gradients(x, y, rngs, Threads(3))
    assert len(Threads(3).slices(len(x))) == 3
    np.testing.assert_allclose(split[0], whole[0], rtol=1e-12)
    assert int(split[1]) == int(whole[1])
    for k, g in whole[2].items():
        np.testing.assert_allclose(split[2][k], g, rtol=1e-9, atol=1e-13)


def test_a_batch_too_small_to_split_lends_its_idle_thread_to_the_weight_gradients(batch, monkeypatch):
    assert Threads(2).spare(MIN_PART * 2) is INLINE  # both threads take a part
    assert Threads(1).spare(10) is INLINE
    spare = Threads(2).spare(10)
    assert spare is not INLINE
    assert spare.start(threading.get_ident)() != threading.get_ident()

    net = Network(NO_DROPOUT, seed=3, device="cpu")
    x, y = net.backend.to_device(batch[0][:10]), net.labels(batch[1][:10])
    rngs = [net.backend.rng(p) for p in range(2)]
    alone = net.batch_gradients(x, y, rngs, Threads(1))
    started = []
    start = type(spare).start
    monkeypatch.setattr(
        type(spare), "start", lambda self, fn, *a: started.append(self) or start(self, fn, *a)
    )
    beside = net.batch_gradients(x, y, rngs, Threads(2))
    assert any(b is not INLINE for b in started)  # the second conv layer's weight gradient
    assert float(beside[0]) == float(alone[0])
    assert all(np.array_equal(beside[2][k], g) for k, g in alone[2].items())


def test_training_on_two_threads_is_reproducible_and_follows_one_thread(batch):
    def train(threads, spec=SMALL):
        net = Network(spec, seed=5, device="cpu", dtype=np.float64)
        history = fit(net, batch, epochs=2, batch_size=48, optimizer=SGD(0.05, momentum=0.9), threads=threads)
        return history.batch_loss, net.state_dict()

    (loss_a, state_a), (loss_b, state_b) = train(2), train(2)
    assert loss_a == loss_b
    assert all(np.array_equal(state_a[k], state_b[k]) for k in state_a)
    (loss_1, state_1), (loss_2, state_2) = train(1, NO_DROPOUT), train(2, NO_DROPOUT)
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-9)
    for k in state_1:
        np.testing.assert_allclose(state_2[k], state_1[k], rtol=1e-7, atol=1e-10)


def test_predictions_do_not_depend_on_the_thread_count(batch, monkeypatch):
    net = Network(seed=2, device="cpu")
    probs = {}
    for threads in (1, 2):
        monkeypatch.setenv(THREADS_VAR, str(threads))
        assert default_threads() == threads
        probs[threads] = net.predict_proba(batch[0], batch_size=40)
    assert probs[1].shape == (96, 10)
    assert np.array_equal(probs[2], probs[1])


def test_blas_runs_one_thread_per_part_until_the_last_user_leaves():
    before = _blas_threads()
    inside = threading.Event()
    leave = threading.Event()

    def other_user():
        with host_threads(NUMPY, 2):
            inside.set()
            leave.wait(5)

    helper = threading.Thread(target=other_user)
    helper.start()
    inside.wait(5)
    with host_threads(NUMPY, 2) as threads:
        assert threads.count == 2 and set(_blas_threads()) == {1}
    assert set(_blas_threads()) == {1}  # the other user is still inside
    leave.set()
    helper.join(5)
    assert _blas_threads() == before


def test_validation_runs_on_the_training_runs_threads(batch, monkeypatch):
    seen = []
    predict_proba = Network.predict_proba

    def recording(net, x, batch_size=500, threads=None):
        seen.append(threads)
        return predict_proba(net, x, batch_size, threads)

    monkeypatch.setattr(Network, "predict_proba", recording)
    net = Network(NO_DROPOUT, seed=3, device="cpu")
    fit(net, batch, epochs=2, batch_size=48, validation=batch, threads=1)
    assert seen == [1, 1]


def test_the_blas_pin_looks_for_the_libraries_once(monkeypatch):
    """threadpoolctl's search of the loaded libraries costs more than one image's forward pass,
    which the window and the drawing pad ask for many times a second."""
    import threadpoolctl

    with host_threads(NUMPY, 1):
        pass
    searches = []
    search = threadpoolctl.ThreadpoolController.__init__

    def counting(self):
        searches.append(1)
        search(self)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", counting)
    for _ in range(3):
        with host_threads(NUMPY, 1):
            pass
    assert searches == []


def test_feature_maps_run_on_one_blas_thread(batch, monkeypatch):
    """A few images' GEMMs are too small to share: waking a second BLAS thread costs more."""
    from threadpoolctl import threadpool_limits

    net = Network(NO_DROPOUT, seed=3, device="cpu")
    seen = []
    forward = net.layers[0].forward

    def recording(*args):
        seen.extend(_blas_threads())
        return forward(*args)

    monkeypatch.setattr(net.layers[0], "forward", recording)
    with threadpool_limits(limits=2, user_api="blas"):
        net.feature_maps(batch[0][:1])
        assert set(_blas_threads()) == {2}
    assert set(seen) == {1}
