"""The headless CLI: train → save → evaluate, summary, and one clear line for every error."""

import gzip
import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import Network, cli, load_dataset
from engine import backend as backend_module
from engine.backend import ENV_VAR
from engine.cli import main
from engine.errors import OutputPathError
from engine.recipe import DEFAULT_RECIPE
from engine.spec import default_spec, default_spec_for, normalize, summary
from engine.training import History
from engine.weights import load, save

#: Small enough to train in a second or two on a loaded CPU; 28×28 input like mnist-5k.
TINY = {
    "input": [1, 28, 28],
    "classes": 10,
    "layers": [
        {"type": "conv", "filters": 8, "kernel": 5, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "dense", "units": 32, "activation": "relu"},
        {"type": "softmax"},
    ],
}


@pytest.fixture
def tiny_spec(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return str(path)


def _one_error_line(capsys, *phrases):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("convscope: error: ")
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


def test_train_saves_a_file_that_evaluate_loads(tmp_path, tiny_spec, capsys):
    model = tmp_path / "m.safetensors"
    argv = [
        "train",
        "--spec",
        tiny_spec,
        "--epochs",
        "3",
        "--limit",
        "500",
        "--lr",
        "0.03",
        "--device",
        "cpu",
    ]
    assert main([*argv, "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "device: CPU (NumPy)" in out
    assert "data: mnist-5k, 500 training and 1,000 test images, 10 classes" in out
    assert "epoch 1/3  train loss" in out and "epoch 3/3  train loss" in out
    assert "val loss" in out and "images/s" in out and f"saved {model}" in out

    net = load(model)
    assert net.metadata["epochs"] == 3
    assert net.metadata["dataset"]["name"] == "mnist-5k"
    assert net.metadata["dataset"]["class_names"] == [str(i) for i in range(10)]

    assert main(["evaluate", str(model), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy: ")[1].split("%")[0]) / 100
    assert accuracy > 0.4  # far above chance (0.1) after 3 epochs on 500 images
    assert accuracy == pytest.approx(net.metadata["metrics"]["val_acc"], abs=1e-4)
    assert "per class (recall" in out and "confusion matrix (rows: true class" in out
    matrix = out.split("columns: predicted):\n")[1].splitlines()
    assert len(matrix) == 11 and sum(int(v) for row in matrix[1:] for v in row.split()[1:]) == 1000


def test_evaluate_forwards_the_test_set_once(tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.safetensors"
    save(Network(TINY), model)
    calls = []
    original = Network.predict_proba

    def predict_proba(self, x, *args, **kwargs):
        calls.append(len(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(Network, "predict_proba", predict_proba)
    assert main(["evaluate", str(model), "--device", "cpu"]) == 0
    assert calls == [1000]
    loss = float(capsys.readouterr().out.split(", loss ")[1].split()[0])
    assert loss == pytest.approx(Network(TINY).evaluate(load_dataset())[0], abs=1e-4)


def test_resume_continues_exactly(tmp_path, tiny_spec, capsys):
    # cosine decays over each run's own epochs, so exact resume needs a horizon-free schedule
    run = ["--limit", "200", "--device", "cpu", "--batch-size", "50", "--schedule", "step"]
    straight, first, resumed = (tmp_path / f"{n}.safetensors" for n in ("straight", "first", "resumed"))
    assert main(["train", "--spec", tiny_spec, *run, "--epochs", "2", "--save", str(straight)]) == 0
    assert main(["train", "--spec", tiny_spec, *run, "--epochs", "1", "--save", str(first)]) == 0
    resume = ["train", *run, "--epochs", "1"]
    assert main([*resume, "--resume", str(first), "--save", str(resumed)]) == 0
    assert "resuming" in capsys.readouterr().out
    a, b = load(straight), load(resumed)
    assert b.metadata["epochs"] == 2
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)


def test_resume_keeps_the_files_optimizer_settings_unless_told_otherwise(tmp_path, tiny_spec, capsys):
    first = tmp_path / "first.safetensors"
    run = ["--limit", "64", "--epochs", "1", "--device", "cpu"]
    assert main(["train", "--spec", tiny_spec, *run, "--l2", "0.001", "--save", str(first)]) == 0
    capsys.readouterr()
    assert main(["train", *run, "--resume", str(first), "--lr", "0.01"]) == 0
    assert "sgd (lr 0.01, l2 0.001, momentum 0.9)" in capsys.readouterr().out
    assert main(["train", *run, "--resume", str(first), "--optimizer", "adam"]) == 0
    assert "adam (lr 0.001, l2 0.0001, beta1 0.9" in capsys.readouterr().out  # Adam's own rate


def test_normalization_is_recorded_and_reused(tmp_path, tiny_spec, capsys):
    model = tmp_path / "m.safetensors"
    argv = ["train", "--spec", tiny_spec, "--epochs", "1", "--limit", "100", "--normalize", "--device", "cpu"]
    assert main([*argv, "--save", str(model)]) == 0
    means, stds = load(model).metadata["dataset"]["normalization"]
    assert len(means) == 1 and 0.05 < means[0] < 0.3 and 0.2 < stds[0] < 0.5
    assert main(["evaluate", str(model), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split("accuracy: ")[1]
    assert float(out.split("%")[0]) / 100 == pytest.approx(
        load(model).metadata["metrics"]["val_acc"], abs=1e-4
    )


def test_summary_prints_the_spec_summary(tiny_spec, capsys):
    assert main(["summary"]) == 0
    table, memory = capsys.readouterr().out.strip().rsplit("\n", 1)
    assert table == summary(default_spec())
    assert memory == "memory: parameters 335 KiB; activations 623 KiB per image in training"
    assert main(["summary", "--spec", tiny_spec]) == 0
    assert "total parameters: 37,434" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "phrases"),
    [
        (["train", "--epochs", "0"], ["argument --epochs: 0 must be ≥ 1"]),
        (["train", "--lr", "abc"], ["'abc' is not a number"]),
        (["train", "--lr", "nan"], ["argument --lr: lr must be a finite number, got nan"]),
        (["train", "--lr", "inf"], ["argument --lr: lr must be a finite number, got inf"]),
        (["train", "--lr", "-0.5"], ["argument --lr: lr must be > 0, got -0.5"]),
        (["train", "--momentum", "1"], ["argument --momentum: momentum must be ≥ 0 and < 1, got 1"]),
        (["train", "--momentum=-inf"], ["argument --momentum: momentum must be a finite number"]),
        (["train", "--l2", "nan"], ["argument --l2: l2 must be a finite number, got nan"]),
        (["train", "--l2", "-1"], ["argument --l2: l2 must be ≥ 0, got -1"]),
        (["train", "--optimizer", "rmsprop"], ["invalid choice: 'rmsprop'"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        ([], ["arguments are required: {train,evaluate,summary,export,runs}"]),
        (["train", "--spec", "missing.json", "--device", "cpu"], ["missing.json: no such spec file"]),
        (["train", "--data", "missing-data", "--device", "cpu"], ["missing-data: does not exist"]),
        (
            ["evaluate", "missing.safetensors", "--device", "cpu"],
            ["missing.safetensors: no such weight file"],
        ),
        (["train", "--optimizer", "adam", "--momentum", "0.5", "--device", "cpu"], ["sgd only"]),
    ],
)
def test_errors_exit_non_zero_with_one_line(argv, phrases, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) != 0
    _one_error_line(capsys, *phrases)


def test_bad_spec_names_every_problem(tmp_path, capsys):
    spec = default_spec()
    spec["layers"][0]["kernel"] = 40
    spec["layers"][4]["dropout"] = 1.5
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    assert main(["summary", "--spec", str(path)]) == 1
    _one_error_line(capsys, "layer 0 (conv): kernel 40×40 does not fit", "layer 4 (dense): dropout")


def test_garbage_weight_file(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x00" * 50)
    assert main(["evaluate", str(path), "--device", "cpu"]) == 1
    _one_error_line(capsys, str(path), "not a readable .safetensors file")


def test_gpu_request_without_gpu_is_an_error(capsys, monkeypatch):
    monkeypatch.setattr("engine.backend.gpu_unavailable_reason", lambda: "no CUDA device here")
    assert main(["summary"]) == 0  # summary needs no device
    capsys.readouterr()
    assert main(["train", "--device", "gpu"]) == 1
    _one_error_line(capsys, "GPU requested but unavailable: no CUDA device here")


def test_data_that_does_not_fit_the_spec(tmp_path, tiny_spec, capsys):
    data = tmp_path / "small.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.random((40, 12, 12), dtype=np.float32), y=np.arange(40) % 3)
    assert main(["train", "--spec", tiny_spec, "--data", str(data), "--device", "cpu"]) == 1
    _one_error_line(capsys, "1×12×12 images but the network expects 1×28×28")


def test_the_default_network_for_images_too_small_for_it_is_the_windows_output_layer_alone(tmp_path, capsys):
    """The window's default network for 12×12 images is a softmax alone; the CLI's stopped with
    'layer 2 (conv): kernel 5×5 does not fit its 4×4 input', which the user had not written."""
    data = tmp_path / "small.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.random((40, 12, 12), dtype=np.float32), y=np.arange(40) % 3)
    model = tmp_path / "m.safetensors"
    argv = ["train", "--data", str(data), "--epochs", "1", "--device", "cpu", "--save", str(model)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "note: the default network's layers do not fit 1×12×12 images, so it is the output layer" in out
    assert load(model).spec == normalize(default_spec_for((1, 12, 12), 3))
    assert [layer["type"] for layer in load(model).spec["layers"]] == ["softmax"]


def test_a_thousand_classes_are_counted_as_every_other_number(tmp_path, capsys):
    data = tmp_path / "many.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.random((2000, 4, 4), dtype=np.float32), y=np.arange(2000) % 1000)
    assert main(["train", "--data", str(data), "--epochs", "1", "--device", "cpu"]) == 0
    assert "1,800 training and 200 test images, 1,000 classes\n" in capsys.readouterr().out  # not "1000"


def test_divergence_is_one_line(tiny_spec, capsys):
    argv = [
        "train",
        "--spec",
        tiny_spec,
        "--limit",
        "128",
        "--batch-size",
        "16",
        "--lr",
        "1e10",
        "--device",
        "cpu",
    ]
    assert main([*argv, "--epochs", "1"]) == 1
    _one_error_line(capsys, "the loss became nan at epoch 1", "training stopped")


def test_python_dash_m_engine_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "engine", "summary"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "total parameters" in result.stdout


@pytest.mark.slow
def test_default_recipe_reaches_97_percent(tmp_path, capsys):
    """The recipe is the CLI's defaults (engine.recipe.DEFAULT_RECIPE: He init, SGD lr 0.03 with
    momentum 0.9 on a cosine schedule, batch 32, 10 epochs, seed 0): the default network trained
    on mnist-5k's 4,000 training images, evaluated on its 1,000 test images."""
    assert DEFAULT_RECIPE.epochs <= 10
    model = tmp_path / "m.safetensors"
    assert main(["train", "--device", "cpu", "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model), "--device", "cpu"]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy: ")[1].split("%")[0]) / 100
    assert accuracy >= 0.97


# -- a newcomer's first runs: nothing is wasted, nothing said twice ----------------------------


def _convscope(*args: str, **kwargs) -> subprocess.Popen:
    """`convscope ARGS` as a real process, run from this checkout. Its SIGINT is set back to the
    default: a shell that starts pytest in the background hands it down ignored."""
    return subprocess.Popen(
        [sys.executable, "-m", "gui.launch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("where", ["missing-folder", "a-file", "a-folder", "read-only"])
def test_train_checks_the_save_path_before_it_trains(tmp_path, tiny_spec, capsys, monkeypatch, where):
    trained = []
    monkeypatch.setattr(cli, "fit", lambda *a, **k: trained.append(1))
    (tmp_path / "file").write_text("")
    path = {
        "missing-folder": tmp_path / "no" / "such" / "m.safetensors",
        "a-file": tmp_path / "file" / "m.safetensors",
        "a-folder": tmp_path,
        "read-only": Path("/proc/m.safetensors"),  # not writable even for root
    }[where]
    assert main(["train", "--spec", tiny_spec, "--device", "cpu", "--save", str(path)]) == 1
    line = _one_error_line(capsys, str(path))
    assert ".tmp" not in line
    assert trained == [], "it trained before finding out"
    assert not capsys.readouterr().out, "it said something before the error"


def test_export_checks_every_output_path_before_it_writes_one(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    save(Network(TINY), model)
    good, bad = tmp_path / "m.onnx", tmp_path / "gone" / "m.py"
    assert main(["export", str(model), "--onnx", str(good), "--torch", str(bad)]) == 1
    _one_error_line(capsys, str(bad), "does not exist")
    assert not good.exists()


def test_the_windows_save_uses_the_same_check(tmp_path):
    """weights.save (the window's Save and the CLI's last save) says the same as the CLI's check."""
    with pytest.raises(OutputPathError, match="the folder .* does not exist"):
        save(Network(TINY), tmp_path / "gone" / "m.safetensors")


def test_auto_device_says_in_one_short_line_which_it_picked(tiny_spec, capsys, monkeypatch):
    monkeypatch.setattr(cli, "fit", lambda *a, **k: History())
    def reason():
        return "CuPy is not installed (a long story)"

    monkeypatch.setattr(backend_module, "gpu_unavailable_reason", reason)
    monkeypatch.setattr(cli, "gpu_unavailable_reason", reason)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert main(["train", "--spec", tiny_spec, "--limit", "64"]) == 0
    out = capsys.readouterr().out
    device = out.splitlines()[0]
    assert device.startswith("device: CPU (NumPy), picked by auto") and len(device) <= 80, device
    assert "CuPy" not in out
    assert main(["train", "--spec", tiny_spec, "--limit", "64", "--verbose"]) == 0
    assert "CuPy is not installed (a long story)" in capsys.readouterr().out
    assert main(["train", "--spec", tiny_spec, "--device", "gpu"]) == 1
    _one_error_line(capsys, "GPU requested but unavailable: CuPy is not installed")


def test_train_prints_how_the_run_trained_where_it_could_not_do_as_asked(tiny_spec, capsys, monkeypatch):
    note = "capturing the training step failed (CUDARuntimeError: not permitted); trained eagerly"
    monkeypatch.setattr(cli, "fit", lambda *a, **k: History(notes=[note]))
    assert main(["train", "--spec", tiny_spec, "--limit", "64", "--device", "cpu"]) == 0
    assert f"note: {note}" in capsys.readouterr().out.splitlines()


def test_a_near_miss_of_a_built_in_data_set_name_is_suggested(capsys):
    assert main(["train", "--data", "mnist", "--device", "cpu"]) == 1
    _one_error_line(capsys, "mnist: does not exist", "Did you mean mnist-5k?", "IDX files", ".npz")


def _wrong_kinds(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    files = {}
    npz = tmp_path / "data.npz"
    np.savez(npz, x=np.zeros((2, 4, 4)), y=np.zeros(2, dtype=np.int64))
    files["npz"] = (npz, "this is a NumPy .npz archive, not a weight file; pass it with --data")
    pickled = tmp_path / "mnist.pkl"
    pickled.write_bytes(pickle.dumps({"x": [1, 2]}))
    files["pickle"] = (pickled, "a Python pickle")
    idx = tmp_path / "train-labels-idx1-ubyte"
    idx.write_bytes(b"\0\0\x08\x01" + (3).to_bytes(4, "big") + bytes(3))
    files["idx"] = (idx, "an IDX (MNIST-format) file")
    png = tmp_path / "digit.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    files["png"] = (png, "a PNG image")
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(TINY))
    files["json"] = (spec, "a JSON file, not a weight file; a network spec goes with --spec")
    gz = tmp_path / "labels.gz"
    gz.write_bytes(gzip.compress(b"hello"))
    files["gzip"] = (gz, "a gzip file")
    return files


@pytest.mark.parametrize("kind", ["npz", "pickle", "idx", "png", "json", "gzip"])
def test_evaluate_names_the_kind_of_a_file_that_is_not_a_weight_file(tmp_path, capsys, kind):
    path, said = _wrong_kinds(tmp_path)[kind]
    assert main(["evaluate", str(path), "--device", "cpu"]) == 1
    line = _one_error_line(capsys, str(path), said)
    assert "truncated" not in line and "header too large" not in line


def _interrupt_after(prefix: str, *args: str) -> tuple[int, str]:
    """Runs `convscope ARGS`, sends it SIGINT (Ctrl-C) once it prints a line starting with
    `prefix`, and returns its exit status and stderr."""
    run = _convscope(*args)
    try:
        seen = []
        for line in run.stdout:
            seen.append(line)
            if line.startswith(prefix):
                break
        else:
            raise AssertionError(f"the process ended before printing {prefix!r}: {''.join(seen)}")
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert "Traceback" not in err
    return run.returncode, err


def test_ctrl_c_during_training_keeps_the_last_finished_epoch(tmp_path, tiny_spec):
    model = tmp_path / "m.safetensors"
    run = ("train", "--spec", tiny_spec, "--limit", "300", "--epochs", "500", "--device", "cpu")
    status, err = _interrupt_after("epoch 2/500", *run, "--save", str(model))
    assert status == 130, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"convscope: interrupted; {model} holds the network after epoch "), err
    epoch = int(line.split("after epoch ")[1].split()[0])
    assert epoch >= 2 and load(model).metadata["epochs"] == epoch
    assert f"--resume {model}" in line
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_ctrl_c_during_start_up_prints_no_traceback(tmp_path):
    model = tmp_path / "m.safetensors"
    # after the device line it loads the data and builds the network: an epoch is seconds away
    status, err = _interrupt_after("device: ", "train", "--device", "cpu", "--save", str(model))
    assert status == 130, err
    assert err.strip() == f"convscope: interrupted; nothing was saved to {model}", err
    assert not model.exists()
