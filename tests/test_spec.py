"""Network specs: validation names every problem, and shape inference matches the real arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine import Network, SpecError, default_spec, infer, normalize, summary, validate
from engine.activations import Custom
from engine.spec import MAX_LAYERS, load_spec, save_spec


def _net(*layers, input_shape=(1, 28, 28), classes=10):
    return {"input": list(input_shape), "classes": classes, "layers": [*layers, {"type": "softmax"}]}


def test_default_spec_shapes_and_parameter_counts():
    infos = infer(default_spec())
    assert [i.output_shape for i in infos] == [
        (20, 24, 24),
        (20, 12, 12),
        (40, 8, 8),
        (40, 4, 4),
        (100,),
        (10,),
    ]
    assert [i.params for i in infos] == [520, 0, 20040, 0, 64100, 1010]
    assert Network(default_spec()).param_shapes()["layers.4.weight"] == (100, 640)


def test_summary_lists_layers_and_total():
    text = summary(default_spec())
    assert "40×4×4" in text and "total parameters: 85,670" in text


def test_rectangular_pool_shapes_and_summary():
    """network3's poolsize=(2, 3): size and stride are [height, width] pairs."""
    spec = _net(
        {"type": "conv", "filters": 4, "kernel": 5},
        {"type": "pool", "size": [2, 3]},
        {"type": "pool", "size": 2, "stride": [2, 1]},
    )
    infos = infer(spec)
    assert [i.output_shape for i in infos[:3]] == [(4, 24, 24), (4, 12, 8), (4, 6, 7)]
    assert [i.layer["stride"] for i in infos[1:3]] == [[2, 3], [2, 1]]
    text = summary(spec)
    assert "max 2×3, stride 2×3" in text and "max 2×2, stride 2×1" in text and "4×6×7" in text
    assert "max 2×2, stride 2 " in summary(default_spec())
    net = Network(spec, seed=0, device="cpu")
    maps = net.feature_maps(np.zeros((1, 1, 28, 28), dtype=np.float32))
    assert [m.shape[1:] for m in maps[:3]] == [(4, 24, 24), (4, 12, 8), (4, 6, 7)]


def test_a_custom_activation_is_offered_on_dense_layers_only():
    """network3 scripts may pass a function with its derivative; its spec has no JSON form."""
    custom = Custom(np.sin, np.cos)
    assert validate(_net({"type": "dense", "units": 3, "activation": custom})) == []
    assert "3 units, sin" in summary(_net({"type": "dense", "units": 3, "activation": custom}))
    assert validate(_net({"type": "conv", "filters": 2, "kernel": 3, "activation": custom})) == [
        "layer 0 (conv): a custom activation (sin) is offered on dense layers only"
    ]


def test_kernel_that_does_not_fit_names_layer_and_sizes():
    spec = _net(
        {"type": "conv", "filters": 4, "kernel": 5},
        {"type": "pool", "size": 2},
        {"type": "pool", "size": 3},
        {"type": "conv", "filters": 4, "kernel": 7},
    )
    assert validate(spec) == ["layer 3 (conv): kernel 7×7 does not fit its 4×4 input"]


def test_every_problem_is_reported_at_once():
    spec = {
        "input": [1, 28, 28],
        "classes": 1,
        "colour": True,
        "layers": [
            {"type": "conv", "filters": 0, "kernel": 3, "dropout": 0.5},
            {"type": "pool", "size": -2, "mode": "median"},
            {"type": "dense", "units": 10, "activation": "swish", "dropout": 1.0},
            {"type": "fancy"},
            {"type": "dense", "unit": 3},
        ],
    }
    problems = validate(spec)
    expected = [
        "unknown top-level field 'colour'",
        "classes must be a whole number ≥ 2",
        "layer 0 (conv): dropout is offered on dense and softmax layers only",
        "layer 0 (conv): filters must be a whole number ≥ 1, got 0",
        "layer 1 (pool): size must be a whole number ≥ 1 or [height, width], got -2",
        "layer 1 (pool): mode must be one of max, mean, got 'median'",
        "layer 2 (dense): unknown activation 'swish'",
        "layer 2 (dense): dropout must be a probability in [0, 1), got 1.0",
        "layer 3: unknown type 'fancy'",
        "layer 4 (dense): unknown field 'unit'",
        "layer 4 (dense): units is required",
        "layer 4: the last layer must be softmax",
    ]
    for phrase in expected:
        assert any(phrase in p for p in problems), (phrase, problems)
    with pytest.raises(SpecError) as err:
        normalize(spec)
    assert err.value.problems == problems


@pytest.mark.parametrize(
    ("layer", "phrase"),
    [
        (
            {"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "padding": "same"},
            "'same' needs stride 1",
        ),
        ({"type": "conv", "filters": 2, "kernel": 3, "padding": -1}, "padding must be"),
        ({"type": "conv", "filters": 2.5, "kernel": 3}, "filters must be a whole number"),
        ({"type": "conv", "filters": True, "kernel": 3}, "filters must be a whole number"),
        ({"type": "conv", "filters": 2, "kernel": [3, 0]}, "kernel must be"),
        ({"type": "pool", "size": 2, "stride": 0}, "stride must be"),
        ({"type": "pool", "size": 2, "dropout": 0.1}, "dropout is offered on dense and softmax layers only"),
        ({"type": "dense", "units": 3, "dropout": -0.1}, "dropout must be a probability"),
        ({"type": "pool", "size": 40}, "pool window 40×40 does not fit its 28×28 input"),
        ({"type": "pool", "size": [2, 29]}, "pool window 2×29 does not fit its 28×28 input"),
        ({"type": "pool", "size": [2, 3, 4]}, "size must be a whole number ≥ 1 or [height, width]"),
        ({"type": "pool", "size": [2, 3], "stride": [1, 0]}, "stride must be"),
    ],
)
def test_single_problems(layer, phrase):
    problems = validate(_net(layer))
    assert len(problems) == 1 and phrase in problems[0], problems
    assert problems[0].startswith(f"layer 0 ({layer['type']})")


def test_conv_after_dense_and_misplaced_softmax():
    spec = _net({"type": "dense", "units": 4}, {"type": "conv", "filters": 1, "kernel": 1})
    assert validate(spec) == [
        "layer 1 (conv): needs feature maps as input, but follows a layer with a flat output"
    ]
    spec = _net({"type": "softmax"}, {"type": "dense", "units": 4})
    assert "layer 0 (softmax): softmax must be the last layer" in validate(spec)


def test_pool_stride_defaults_to_size_and_spec_round_trips_as_json(tmp_path):
    normal = normalize(_net({"type": "pool", "size": 3}))
    assert normal["layers"][0]["size"] == normal["layers"][0]["stride"] == [3, 3]
    path = tmp_path / "net.json"
    save_spec(default_spec(), path)
    assert load_spec(path) == normalize(default_spec())
    json.dumps(normal)


def test_bad_spec_files(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(tmp_path / "bad.json")


# A layer drawn from values both valid and invalid, so specs land on both sides of validation.
_sizes = st.one_of(st.integers(-1, 6), st.sampled_from([2.5, "3", None]))
_layers = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("conv"),
            "filters": st.integers(0, 3),
            "kernel": st.one_of(_sizes, st.lists(st.integers(0, 5), min_size=2, max_size=2)),
        },
        optional={
            "stride": _sizes,
            "padding": st.one_of(st.integers(-1, 3), st.just("same")),
            "activation": st.sampled_from(["relu", "sigmoid", "tanh", "linear", "elu"]),
            "dropout": st.just(0.5),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("pool"), "size": _sizes},
        optional={"mode": st.sampled_from(["max", "mean", "min"]), "stride": _sizes},
    ),
    st.fixed_dictionaries(
        {"type": st.just("dense"), "units": st.integers(0, 5)},
        optional={
            "activation": st.sampled_from(["relu", "tanh", "softplus"]),
            "dropout": st.floats(-0.5, 1.5),
        },
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layers=st.lists(_layers, min_size=0, max_size=4),
    input_shape=st.tuples(st.integers(1, 2), st.integers(1, 12), st.integers(1, 12)),
    classes=st.integers(1, 4),
    seed=st.integers(0, 100),
)
def test_a_spec_either_builds_with_the_inferred_shapes_or_validation_names_the_problem(
    layers, input_shape, classes, seed, device
):
    spec = _net(*layers, input_shape=input_shape, classes=classes)
    problems = validate(spec)
    event("invalid" if problems else "valid")
    if problems:
        assert all(isinstance(p, str) and p for p in problems)
        with pytest.raises(SpecError):
            Network(spec)
        return
    infos = infer(spec)
    net = Network(spec, seed=seed, device=device)
    x = np.random.default_rng(seed).random((2, *input_shape), dtype=np.float32)
    maps = net.feature_maps(x)
    assert [m.shape[1:] for m in maps] == [i.output_shape for i in infos]
    assert sum(p.size for p in net.params.values()) == sum(i.params for i in infos)
    probs = net.predict_proba(x)
    assert probs.shape == (2, classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_a_network_of_more_layers_than_the_limit_is_refused_before_its_layers_are_checked():
    """A 580 KB spec of 20,000 pool layers of size 1 was valid, and opening it froze the window
    for about half an hour (its panels' layout grows with their square)."""
    pools = [{"type": "pool", "size": 1}] * (MAX_LAYERS - 1)
    deepest = {**default_spec(), "layers": [*pools, {"type": "softmax"}]}
    assert validate(deepest) == []
    deeper = {**deepest, "layers": [{"type": "pool", "size": 1}, *deepest["layers"]]}
    assert validate(deeper) == [f"a network has at most {MAX_LAYERS} layers, this one has {MAX_LAYERS + 1}"]


def test_a_weight_file_given_as_a_spec_is_named_as_one(tmp_path):
    """`convscope summary --spec model.safetensors` said "is not UTF-8 text (byte 0xd2 at offset
    2,578)" of a file ConvScope had written itself."""
    from engine.weights import save

    path = tmp_path / "model.safetensors"
    save(Network(_net({"type": "pool", "size": 2}), seed=0), path)
    with pytest.raises(SpecError, match=r"model\.safetensors: is a weight file, not a network spec; it goes"):
        load_spec(path)
