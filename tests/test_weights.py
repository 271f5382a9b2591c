"""Weight files: exact round trips and resume, atomic writes, and a clear error for every bad file."""

import json
import os

import numpy as np
import pytest
import safetensors.numpy

from engine import SGD, Adam, Network, fit
from engine.weights import WeightFileError, load, load_with_optimizer, read_header, save

SPEC = {
    "input": [1, 8, 8],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 3, "kernel": 3, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 10, "activation": "tanh", "dropout": 0.2},
        {"type": "softmax"},
    ],
}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.random((96, 1, 8, 8), dtype=np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) * 6).astype(np.int64) % 3
    return x, y


def test_round_trip_gives_identical_predictions(tmp_path, data):
    net = Network(SPEC, seed=3)
    fit(net, data, epochs=1, batch_size=16, optimizer=SGD(lr=0.1))
    path = tmp_path / "m.safetensors"
    save(net, path)
    loaded = load(path)
    assert loaded.spec == net.spec and loaded.seed == 3 and loaded.init == "network3"
    assert loaded.metadata["epochs"] == 1
    assert set(loaded.metadata["metrics"]) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), net.predict_proba(data[0]))


def test_float64_network_round_trips(tmp_path, data):
    net = Network(SPEC, seed=1, dtype=np.float64)
    save(net, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert loaded.dtype == np.float64
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)


def test_non_contiguous_parameter_reloads_equal(tmp_path):
    net = Network(SPEC, seed=0, device="cpu")  # safetensors' own bug, with NumPy arrays
    w = net.params["layers.2.weight"]
    net.params["layers.2.weight"] = np.asfortranarray(w)
    assert not net.params["layers.2.weight"].flags.c_contiguous
    save(net, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(load(tmp_path / "m.safetensors").state_dict()["layers.2.weight"], w)


def test_header_records_spec_dataset_and_optimizer(tmp_path):
    from engine.data import Dataset, Split

    x = np.zeros((4, 1, 8, 8), np.float32)
    y = np.arange(4) % 3
    ds = Dataset("toy", Split(x, y), Split(x, y), ("a", "b", "c"), ((0.5,), (0.25,)))
    net = Network(SPEC, seed=7)
    net.metadata.update(epochs=4)
    save(net, tmp_path / "m.safetensors", optimizer=Adam(lr=0.01), dataset=ds)
    header = read_header(tmp_path / "m.safetensors")
    assert header["spec"] == net.spec
    assert header["network"] == {"init": "network3", "seed": 7, "dtype": "float32"}
    assert header["training"]["epochs"] == 4
    assert header["training"]["dataset"] == {
        "name": "toy",
        "input_shape": [1, 8, 8],
        "class_names": ["a", "b", "c"],
        "normalization": [[0.5], [0.25]],
    }
    assert header["optimizer"]["config"]["name"] == "adam"
    assert load(tmp_path / "m.safetensors").metadata["dataset"]["class_names"] == ["a", "b", "c"]


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.05, momentum=0.9, l2=1e-3), lambda: Adam(lr=3e-3)])
def test_resume_is_exact(tmp_path, data, make):
    straight = Network(SPEC, seed=5)
    fit(straight, data, epochs=3, batch_size=20, optimizer=make())

    first = Network(SPEC, seed=5)
    opt = make()
    fit(first, data, epochs=2, batch_size=20, optimizer=opt)
    save(first, tmp_path / "m.safetensors", optimizer=opt)
    resumed, opt2 = load_with_optimizer(tmp_path / "m.safetensors")
    assert opt2 is not None and opt2.config() == opt.config() and opt2.steps == opt.steps
    fit(resumed, data, epochs=1, batch_size=20, optimizer=opt2)

    assert resumed.metadata["epochs"] == 3
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_file_without_optimizer_gives_none(tmp_path):
    save(Network(SPEC), tmp_path / "m.safetensors")
    assert load_with_optimizer(tmp_path / "m.safetensors")[1] is None


def test_loading_draws_no_initialisation_it_would_overwrite(tmp_path, monkeypatch):
    net = Network(SPEC, seed=5)
    save(net, tmp_path / "m.safetensors")
    monkeypatch.setattr(Network, "reset_parameters", lambda *a: pytest.fail("drew an initialisation"))
    loaded = load(tmp_path / "m.safetensors")
    assert loaded.params.keys() == net.params.keys() and loaded.seed == 5
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=k)


def test_crash_mid_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    old = Network(SPEC, seed=1)
    save(old, path)
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(WeightFileError, match=r"m\.safetensors: cannot write the weight file \(disk full\)"):
        save(Network(SPEC, seed=2), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    kept = load(path).state_dict()["layers.0.weight"]
    np.testing.assert_array_equal(kept, old.state_dict()["layers.0.weight"])


# -- bad files: each gives WeightFileError with a message that names the file and the problem --


def _valid(tmp_path, optimizer=None):
    path = tmp_path / "m.safetensors"
    net = Network(SPEC)
    if optimizer is not None:
        fit(net, (np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, np.int64)), optimizer=optimizer)
    save(net, path, optimizer=optimizer)
    return path


def _rewrite(path, change):
    """Re-save `path` after `change(tensors, metadata)` edits it, bypassing our checks."""
    with open(path, "rb") as f:
        raw = f.read()
    tensors = safetensors.numpy.load(raw)
    from safetensors import safe_open

    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    change(tensors, meta)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=meta))


def _error(path):
    with pytest.raises(WeightFileError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "no such weight file" in _error(tmp_path / "nope.safetensors")


def test_folder(tmp_path):
    assert "is a folder" in _error(tmp_path)


def test_truncated_file(tmp_path):
    path = _valid(tmp_path)
    path.write_bytes(path.read_bytes()[:-100])
    assert "truncated or damaged" in _error(path)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"this is not a weight file at all" * 10)
    assert "not a readable .safetensors file" in _error(path)


def test_empty_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"")
    assert "not a readable .safetensors file" in _error(path)


def test_safetensors_file_without_our_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(3, np.float32)}, path)
    assert "not a ConvScope weight file" in _error(path)


def test_tensor_with_wrong_shape(tmp_path):
    path = _valid(tmp_path)
    _rewrite(path, lambda t, m: t.update({"layers.2.weight": np.zeros((10, 7), np.float32)}))
    assert "tensor layers.2.weight is 10×7 but the network needs 10×27" in _error(path)


def test_tensor_with_wrong_dtype(tmp_path):
    path = _valid(tmp_path)
    _rewrite(path, lambda t, m: t.update({"layers.0.bias": t["layers.0.bias"].astype(np.float16)}))
    assert "tensor layers.0.bias is float16 but the network is float32" in _error(path)


def test_missing_and_extra_tensors(tmp_path):
    path = _valid(tmp_path)

    def change(t, m):
        t["layers.9.weight"] = t.pop("layers.3.bias")

    _rewrite(path, change)
    message = _error(path)
    assert "tensor layers.3.bias is missing" in message
    assert "tensor layers.9.weight that the network does not use" in message


def test_a_state_dict_in_memory_meets_the_rule_a_file_meets(tmp_path):
    """One rule checks parameters, whether they come from a file or from a caller."""
    path = _valid(tmp_path)

    def change(t, m):
        t["layers.9.weight"] = t.pop("layers.3.bias")
        t["layers.2.weight"] = np.zeros((10, 7), np.float32)

    _rewrite(path, change)
    state = safetensors.numpy.load_file(path)
    with pytest.raises(ValueError) as in_memory:
        Network(SPEC).load_state_dict(state)
    assert str(in_memory.value) in _error(path)


@pytest.mark.parametrize(
    ("field", "value", "phrases"),
    [
        (
            "filters",
            5,
            [
                "does not match its network spec",
                "tensor layers.0.weight is 3×1×3×3 but the network needs 5×1×3×3",
            ],
        ),
        ("kernel", 20, ["its network spec is invalid: layer 0 (conv): kernel 20×20 does not fit"]),
    ],
)
def test_a_spec_that_does_not_fit_the_tensors_or_is_invalid(tmp_path, field, value, phrases):
    path = _valid(tmp_path)

    def change(t, m):
        spec = json.loads(m["spec"])
        spec["layers"][0][field] = value
        m["spec"] = json.dumps(spec)

    _rewrite(path, change)
    message = _error(path)
    assert all(phrase in message for phrase in phrases), message


def test_damaged_metadata_json(tmp_path):
    path = _valid(tmp_path)
    _rewrite(path, lambda t, m: m.update(network="{not json"))
    assert "its 'network' metadata is not valid JSON" in _error(path)


def test_newer_format_version(tmp_path):
    path = _valid(tmp_path)
    _rewrite(path, lambda t, m: m.update(format_version="99"))
    assert "newer than this ConvScope reads" in _error(path)


def test_optimizer_state_with_wrong_shape(tmp_path):
    path = _valid(tmp_path, optimizer=SGD(lr=0.1, momentum=0.9))
    _rewrite(path, lambda t, m: t.update({"optimizer.layers.0.bias.velocity": np.zeros(2, np.float32)}))
    with pytest.raises(WeightFileError, match="optimizer state does not match.*layers.0.bias.velocity is 2"):
        load_with_optimizer(path)


def test_save_and_resume_on_a_strict_device_backend(tmp_path, data):
    """Weights and optimizer state cross to the host and back only through the backend's edges."""
    from strict_backend import STRICT

    net = Network(SPEC, seed=2, device=STRICT)
    opt = SGD(lr=0.05, momentum=0.9)
    fit(net, data, epochs=1, batch_size=32, optimizer=opt)
    save(net, tmp_path / "m.safetensors", optimizer=opt)
    resumed, opt2 = load_with_optimizer(tmp_path / "m.safetensors", device=STRICT)
    for k, v in net.params.items():
        np.testing.assert_array_equal(STRICT.to_host(resumed.params[k]), STRICT.to_host(v))
    fit(resumed, data, epochs=1, batch_size=32, optimizer=opt2)
    assert resumed.metadata["epochs"] == 2


@pytest.mark.parametrize(
    ("training", "phrase"),
    [
        ({"epochs": None}, "epochs must be a whole number"),
        ({"dataset": ["mnist"]}, "'dataset' must be an object"),
        ({"dataset": {"class_names": [str(i) for i in range(11)]}}, "class_names must be a list of at most"),
        ({"dataset": {"normalization": [[0.1], [0.0]]}}, "positive stds"),
        ({"dataset": {"normalization": [[0.1, 0.2], [0.3]]}}, "of equal length"),
    ],
)
def test_damaged_training_metadata(tmp_path, training, phrase):
    path = _valid(tmp_path)
    _rewrite(path, lambda t, m: m.update(training=json.dumps(training)))
    message = _error(path)
    assert "its training metadata is damaged" in message and phrase in message


def test_rectangular_pool_round_trips_and_square_int_sizes_still_load(tmp_path, data):
    """network3's poolsize=(2, 3) is stored as pairs; files that spelled a pool's size and
    stride as one number, as they were written before pairs, read as the same network."""
    spec = json.loads(json.dumps(SPEC))
    spec["layers"][1].update(size=[2, 3], stride=[2, 1])
    net = Network(spec, seed=2)
    path = tmp_path / "rect.safetensors"
    save(net, path)
    loaded = load(path)
    assert loaded.spec["layers"][1]["size"] == [2, 3] and loaded.spec["layers"][1]["stride"] == [2, 1]
    assert loaded.param_shapes()["layers.2.weight"] == (10, 3 * 3 * 4)
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), net.predict_proba(data[0]))

    square = tmp_path / "square.safetensors"
    save(Network(SPEC, seed=2), square)

    def as_numbers(tensors, meta):
        old = json.loads(meta["spec"])
        old["layers"][1].update(size=2, stride=2)
        meta["spec"] = json.dumps(old)

    _rewrite(square, as_numbers)
    assert load(square).spec["layers"][1]["size"] == [2, 2]
