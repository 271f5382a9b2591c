"""Export: ONNX Runtime and PyTorch give `Network.predict_proba`'s probabilities to 1e-5, for random
networks covering every layer option and for a trained default network, through the CLI."""

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import Network, fit, load_dataset, save
from engine.cli import main
from engine.data import with_normalization
from engine.onnx_export import INPUT, to_onnx
from engine.optim import SGD
from engine.spec import ACTIVATIONS, validate
from engine.torch_export import save_torch
from engine.weights import load

TOLERANCE = 1e-5


def onnx_probabilities(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT: x})[0]


def torch_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch_module(path).load()(torch.from_numpy(x)).numpy()


def standardized(x: np.ndarray, stats) -> np.ndarray:
    if stats is None:
        return x
    means, stds = (np.asarray(s, dtype=np.float32)[:, None, None] for s in stats)
    return (x - means) / stds


#: A whole number n (n×n) or [height, width], as kernels, pool windows and pool strides take.
sizes = st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2))


@st.composite
def layer_lists(draw):
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            kernel = draw(st.one_of(sizes, st.just([4, 1]), st.just([2, 4])))
            padding = draw(st.one_of(st.just("same"), st.integers(0, 2)))
            stride = 1 if padding == "same" else draw(st.integers(1, 3))
            layers.append({"type": "conv", "filters": draw(st.integers(1, 4)), "kernel": kernel,
                           "stride": stride, "padding": padding,
                           "activation": draw(st.sampled_from(ACTIVATIONS))})
        else:
            layers.append({"type": "pool", "mode": draw(st.sampled_from(["max", "mean"])),
                           "size": draw(sizes), "stride": draw(sizes)})
    for _ in range(draw(st.integers(0, 2))):
        layers.append({"type": "dense", "units": draw(st.integers(1, 12)),
                       "activation": draw(st.sampled_from(ACTIVATIONS)),
                       "dropout": draw(st.sampled_from([0.0, 0.5]))})
    layers.append({"type": "softmax", "dropout": draw(st.sampled_from([0.0, 0.3]))})
    return layers


@st.composite
def networks(draw, device):
    channels = draw(st.integers(1, 3))
    spec = {"input": [channels, draw(st.integers(5, 12)), draw(st.integers(5, 12))],
            "classes": draw(st.integers(2, 5)), "layers": draw(layer_lists())}
    assume(not validate(spec))
    net = Network(spec, seed=draw(st.integers(0, 2**16)), device=device)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # The default init gives the softmax layer zero weights: every output would be uniform.
    net.load_state_dict({k: rng.normal(0, 0.7, v.shape) for k, v in net.state_dict().items()})
    if draw(st.booleans()):
        means = rng.uniform(-0.5, 0.5, channels).tolist()
        net.metadata["dataset"] = {"normalization": [means, rng.uniform(0.2, 2, channels).tolist()]}
    x = rng.random((draw(st.integers(1, 5)), *spec["input"]), dtype=np.float32)
    return net, x


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_networks_match_in_onnxruntime_and_torch(tmp_path, device, data):
    net, x = data.draw(networks(device))
    expected = net.predict_proba(standardized(x, net.metadata.get("dataset", {}).get("normalization")))
    np.testing.assert_allclose(onnx_probabilities(to_onnx(net).SerializeToString(), x), expected,
                               rtol=0, atol=TOLERANCE)
    # A folder per example: a module rewritten at the same path within a second, at the same
    # size, would be imported from the previous example's cached bytecode.
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    weights, source = folder / "net.safetensors", folder / "net_torch.py"
    save(net, weights)
    save_torch(net, source, weights)
    np.testing.assert_allclose(torch_probabilities(source, x), expected, rtol=0, atol=TOLERANCE)


def test_same_padding_with_an_even_kernel_pads_bottom_right(device):
    """ONNX's pads are (top, left, bottom, right); swapping them would still give the right shape."""
    spec = {"input": [1, 6, 6], "classes": 2, "layers": [
        {"type": "conv", "filters": 1, "kernel": [4, 2], "padding": "same", "activation": "linear"},
        {"type": "softmax"}]}
    net = Network(spec, device=device)
    weight = np.zeros((1, 1, 4, 2), np.float32)
    weight[0, 0, 0, 0] = 1  # each output is the pixel at its window's top-left corner
    state = net.state_dict()
    state["layers.0.weight"] = weight
    state["layers.1.weight"] = np.random.default_rng(0).normal(0, 1, state["layers.1.weight"].shape)
    net.load_state_dict(state)
    x = np.random.default_rng(1).random((3, 1, 6, 6), dtype=np.float32)
    np.testing.assert_allclose(onnx_probabilities(to_onnx(net).SerializeToString(), x),
                               net.predict_proba(x), rtol=0, atol=TOLERANCE)


def test_trained_default_network_exports_through_the_cli(tmp_path, capsys):
    """The CLI end to end: train the default network (normalised input), export both ways, and run
    the exported models on the raw built-in test images."""
    model, onnx_path, source = tmp_path / "m.safetensors", tmp_path / "m.onnx", tmp_path / "m_torch.py"
    argv = ["train", "--epochs", "1", "--limit", "1000", "--normalize", "--device", "cpu"]
    assert main([*argv, "--save", str(model)]) == 0
    assert main(["export", str(model), "--onnx", str(onnx_path), "--torch", str(source)]) == 0
    assert f"wrote {onnx_path}\nwrote {source}" in capsys.readouterr().out

    net = load(model)
    raw = load_dataset("mnist-5k")
    data = with_normalization(raw, net.metadata["dataset"]["normalization"])
    expected = net.predict_proba(data.test.x)
    assert (expected.argmax(axis=1) == data.test.y).mean() > 0.8  # a trained network, not a flat one
    x = raw.test.x
    onnx_output = onnx_probabilities(onnx_path.read_bytes(), x)
    np.testing.assert_allclose(onnx_output, expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(torch_probabilities(source, x), expected, rtol=0, atol=TOLERANCE)


def test_torch_source_reads_a_file_with_optimizer_state_and_trains(tmp_path):
    """A file saved mid-training holds optimizer tensors; `load()` skips them. The module trains in
    torch (dropout active in train mode) as ordinary PyTorch code."""
    spec = {"input": [1, 8, 8], "classes": 3, "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "activation": "relu"},
        {"type": "dense", "units": 5, "dropout": 0.5},
        {"type": "softmax"}]}
    data = (np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32), np.arange(20) % 3)
    net = Network(spec)
    optimizer = SGD(0.1)
    fit(net, data, epochs=1, batch_size=10, optimizer=optimizer)
    weights, source = tmp_path / "w.safetensors", tmp_path / "w_torch.py"
    save(net, weights, optimizer=optimizer)
    save_torch(net, source, weights)
    module = torch_module(source)
    loaded = module.load()
    assert not loaded.training
    x = torch.from_numpy(data[0])
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), net.predict_proba(data[0]), rtol=0, atol=TOLERANCE)
    loaded.train()
    loss = torch.nn.functional.cross_entropy(loaded.logits(x), torch.from_numpy(data[1]))
    loss.backward()
    assert loaded.layers[0].weight.grad is not None
    assert module.CLASS_NAMES == ["0", "1", "2"]


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.safetensors"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    assert "no such weight file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.safetensors")]) == 2
    assert "export needs --onnx PATH, --torch PATH or both" in capsys.readouterr().err


def test_missing_onnx_package_is_named(tmp_path):
    """Without the optional extra, the user is told what to install, in one line."""
    net = Network()
    model = tmp_path / "m.safetensors"
    save(net, model)
    code = "import sys; sys.modules['onnx'] = None; from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["export", str(model), "--onnx", str(tmp_path / "m.onnx")]
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'convscope: error: exporting to ONNX needs the onnx package: pip install "convscope[export]"'
    )
