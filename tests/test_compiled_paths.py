"""The host's compiled kernels end to end: over random valid networks (odd map sizes, strides
above the kernel or pool window, padding, windows that overlap or leave gaps, 1×N maps, one
class, ties and NaN in max pools, float32 and float64, non-contiguous inputs, one image and
batches larger than the data, one thread and two), predictions, feature maps, gradients and a
training epoch give the same bits with the compiled kernels as with the NumPy code they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import Network, fit, jit
from engine.errors import SettingError
from engine.optim import SGD, Adam
from engine.spec import check

pytestmark = pytest.mark.skipif(not jit.enabled(), reason="Numba is not installed here")

sides = st.sampled_from([1, 2, 3, 5])
pairs = st.one_of(sides, st.tuples(sides, sides).map(list))
conv = st.fixed_dictionaries({
    "type": st.just("conv"), "filters": st.sampled_from([1, 3, 4]), "kernel": st.sampled_from([1, 2, 3, 5]),
    "stride": st.sampled_from([1, 1, 2, 3]), "padding": st.sampled_from([0, 1, 2, "same"]),
    "activation": st.sampled_from(["relu", "tanh", "sigmoid", "linear"]),
})
pool = st.fixed_dictionaries({"type": st.just("pool"), "mode": st.sampled_from(["max", "mean"]),
                              "size": pairs, "stride": pairs})
# Winograd's convolutions: stride 1 and whole 4×4 output blocks, enough channels and images.
winograd = st.builds(
    lambda r, c, blocks, pad: ([c, 4 * blocks + (r - 1) * (pad == 0), 4 * blocks + (r - 1) * (pad == 0)],
                               {"type": "conv", "filters": 3, "kernel": r, "padding": pad}),
    st.sampled_from([3, 5]), st.sampled_from([16, 17]), st.sampled_from([1, 2]), st.sampled_from([0, "same"]),
)


@st.composite
def networks(draw) -> dict:
    if draw(st.booleans()):
        shape, first = draw(winograd)
        layers = [first]
    else:
        shape = [draw(st.sampled_from([1, 2, 3])), draw(st.integers(1, 12)), draw(st.integers(1, 12))]
        layers = []
    layers += draw(st.lists(st.one_of(conv, pool), min_size=0 if layers else 1, max_size=3))
    if draw(st.booleans()):
        layers.append({"type": "dense", "units": draw(st.sampled_from([1, 5]))})
    classes = draw(st.sampled_from([1, 2, 7]))
    spec = {"input": shape, "classes": classes, "layers": [*layers, {"type": "softmax"}]}
    assume(not check(spec)[2])
    return spec


def _run(spec, x, y, dtype, optimizer, batch_size, threads):
    net = Network(spec, seed=3, dtype=dtype)
    probs = net.predict_proba(x, batch_size=3, threads=threads)
    maps = net.feature_maps(x[:2])
    loss, grads = net.loss_and_grads(x, y)
    opt = SGD(lr=0.1, momentum=0.9, l2=0.01) if optimizer == "sgd" else Adam(lr=0.01, l2=0.01)
    try:
        fit(net, (x, y), epochs=1, batch_size=batch_size, optimizer=opt, threads=threads, shuffle=False)
        trained = {k: v.copy() for k, v in net.params.items()}
    except Exception as e:  # a NaN input diverges: both paths must say so
        trained = type(e).__name__
    return probs, maps, loss, grads, trained


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.filter_too_much])
@given(spec=networks(), images=st.sampled_from([1, 2, 3, 7]), dtype=st.sampled_from([np.float32, np.float64]),
       layout=st.sampled_from(["c", "fortran", "strided", "ties", "nan"]),
       optimizer=st.sampled_from(["sgd", "adam"]),
       batch_size=st.sampled_from([1, 2, 5, 64]), threads=st.sampled_from([1, 2]), seed=st.integers(0, 99))
def test_compiled_and_numpy_paths_give_the_same_bits(
    spec, images, dtype, layout, optimizer, batch_size, threads, seed, monkeypatch
):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((images, *spec["input"])).astype(dtype)
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=3)[..., ::2]
    elif layout == "ties":
        x = np.round(x)
    elif layout == "nan":
        x[x > 1.5] = np.nan
    y = rng.integers(0, spec["classes"], images)
    compiled = _run(spec, x, y, dtype, optimizer, batch_size, threads)
    with monkeypatch.context() as m:
        m.setattr(jit, "enabled", lambda: False)
        plain = _run(spec, x, y, dtype, optimizer, batch_size, threads)
    for a, b in zip([compiled[0], *compiled[1], compiled[2]], [plain[0], *plain[1], plain[2]], strict=True):
        np.testing.assert_array_equal(a, b)
    # With NaN inputs the gradients are NaN-tainted, and where NumPy's code multiplies a NaN
    # gradient by a 0/1 mask (NaN) a kernel writes 0: their NaN patterns differ. The training
    # diverges on both paths alike, which part 4 checks.
    for part in (4,) if layout == "nan" else (3, 4):
        a, b = compiled[part], plain[part]
        assert type(a) is type(b) and (a == b if isinstance(a, str) else a.keys() == b.keys())
        for k in a if isinstance(a, dict) else ():
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)



@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.complex64, np.longdouble])
def test_a_network_of_another_dtype_is_refused_as_the_weight_files_refuse_it(dtype):
    """The compiled kernels take float32 and float64 only (a float16 network ran on the NumPy
    path and raised Numba's NotImplementedError on the compiled one)."""
    with pytest.raises(SettingError, match="dtype: a network's dtype is float32 or float64"):
        Network({"input": [1, 4, 4], "classes": 2, "layers": [{"type": "softmax"}]}, dtype=dtype)
