"""Hostile input (issue 19): every crafted input of tests/hostile_inputs.py, through the CLI and
through the API, ends in a non-zero exit and a message of a line or two, never a traceback, in a
subprocess held to 10 s of CPU time and a 3 GiB address space. Then the pieces one by one."""

from __future__ import annotations

import errno
import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostile_inputs import CASES, TINY, Case, npy, npy_header, weight_file, zip64

from engine import limits
from engine.bounded_io import open_regular
from engine.cli import main
from engine.data import load_dataset
from engine.errors import DataError, LimitError, SpecError, WeightFileError, listing
from engine.jsontext import MAX_DEPTH, parse
from engine.network import Network
from engine.optim import SGD, Adam
from engine.weights import load, save

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "hostile_driver.py"
FUZZER = Path(__file__).resolve().parent / "fuzz_files.py"
CPU_S = 10
ADDRESS_SPACE = 3 << 30
#: Only catches a hang (a named pipe opened for reading blocks without using CPU time).
WALL_S = 180


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSCOPE_")}
    # One BLAS thread: each reserves address space, and the limit is on address space.
    limited = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CONVSCOPE_THREADS": "1"}
    # The driver runs from tests/: it must import this checkout's engine, not an installed one.
    return {**env, **limited, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}


def _argv(case: Case, path: Path) -> list[str]:
    return {
        "weights": ["evaluate", str(path), "--device", "cpu"],
        "resume": ["train", "--resume", str(path), "--epochs", "1", "--limit", "64", "--device", "cpu"],
        "spec": ["summary", "--spec", str(path)],
        "data": ["train", "--data", str(path), "--epochs", "1", "--device", "cpu"],
        "fit": ["train", "--data", str(path), "--epochs", "1", "--device", "cpu"],
    }[case.use]


_built: dict[str, Path] = {}


def _input(case: Case, factory: pytest.TempPathFactory) -> Path:
    """Each case's input, built once for both runs."""
    if case.name not in _built:
        _built[case.name] = case.make(factory.mktemp("hostile"))
    return _built[case.name]


@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_crafted_input_is_refused_cleanly(case: Case, via: str, tmp_path_factory: pytest.TempPathFactory):
    path = _input(case, tmp_path_factory)
    if via == "cli":
        command = [sys.executable, "-m", "engine", *_argv(case, path)]
    else:
        command = [sys.executable, str(DRIVER), case.use, str(path)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=WALL_S, preexec_fn=_limited, env=_env(), cwd=ROOT
    )
    err = done.stderr.strip()
    assert done.returncode == 1, (done.returncode, err[-2000:])  # not killed by a limit's signal
    assert "Traceback" not in err and "ran out of memory" not in err, err[-2000:]
    assert 0 < len(err) <= 1000 and len(err.splitlines()) <= 2, err[:2000]
    assert err.startswith("convscope: error: " if via == "cli" else "error: ")


def test_mutation_fuzzer_finds_no_uncaught_exception():
    """tests/fuzz_files.py on a fixed budget (and seed) here; CONVSCOPE_FUZZ_MINUTES runs it
    longer, as does the script itself."""
    minutes = os.environ.get("CONVSCOPE_FUZZ_MINUTES", "0")
    command = [sys.executable, str(FUZZER), "--examples", "30", "--minutes", minutes]
    budget = max(60, 120 * float(minutes) * 60)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (int(budget), int(budget)))
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    done = subprocess.run(
        command, capture_output=True, text=True, timeout=WALL_S + 2 * budget, preexec_fn=limited, env=_env()
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert " 0 uncaught exceptions" in done.stdout
    assert minutes != "0" or done.stdout.startswith("fuzz: 150 cases")


# --- bound every size before allocating ----------------------------------------------------------


def test_limits_come_from_configure_then_the_environment_then_the_defaults(monkeypatch):
    assert limits.current() == limits.Limits()
    monkeypatch.setenv("CONVSCOPE_MAX_ACTIVATIONS", "512MiB")
    monkeypatch.setenv("CONVSCOPE_MAX_PARAMS", "1e9")
    assert limits.current().max_activation_bytes == 512 << 20
    assert limits.current().max_params == 10**9
    limits.configure(max_params="2000")
    assert limits.current().max_params == 2000
    limits.configure(max_params=None)
    assert limits.current().max_params == 10**9
    monkeypatch.setenv("CONVSCOPE_MAX_DATA", "lots")
    with pytest.raises(LimitError, match="CONVSCOPE_MAX_DATA: 'lots' is not a size"):
        limits.current()


@pytest.fixture(autouse=True)
def _default_limits():
    yield
    limits.configure(**dict.fromkeys(limits.ENV_VARS))


def test_a_network_beyond_the_limits_is_refused_before_any_array_is_made():
    limits.configure(max_params=1000)
    with pytest.raises(LimitError, match=r"85,670 parameters, more than the limit of 1,000 \(raise it with"):
        Network()


def test_the_command_line_raises_and_lowers_the_limits(capsys):
    assert main(["summary", "--max-params", "1e4"]) == 1
    assert "85,670 parameters, more than the limit of 10,000" in capsys.readouterr().err
    assert main(["summary", "--max-activations", "100KiB"]) == 1
    assert "more than the limit of 100 KiB" in capsys.readouterr().err
    assert main(["summary", "--max-data", "lots"]) == 2
    assert "argument --max-data: 'lots' is not a size (e.g." in capsys.readouterr().err
    assert main(["summary"]) == 0  # each run sets every limit afresh
    spec = {**TINY, "layers": [{"type": "dense", "units": 2000}, {"type": "softmax"}]}  # 1.6M params
    assert limits.estimate(spec).params > 10**6
    assert main(["train", "--max-params", "1e6", "--epochs", "1", "--limit", "10", "--device", "cpu",
                 "--spec", _write_spec(spec)]) == 1
    assert "more than the limit of 1,000,000" in capsys.readouterr().err


def _write_spec(spec: dict) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    return f.name


def test_training_batches_beyond_the_activation_limit_are_refused_and_inference_splits():
    memory = limits.estimate(TINY)
    budget = memory.train_bytes(8)  # a batch of 8 fits, of 9 does not
    net = Network(TINY)
    x = np.zeros((20, 1, 28, 28), np.float32)
    limits.configure(max_activation_bytes=budget)
    with pytest.raises(LimitError, match="training on batches of 9 needs .*choose a smaller batch size"):
        net_fit(net, x, batch_size=9)
    net_fit(net, x, batch_size=8)
    assert memory.inference_rows(500) == budget // memory.inference_bytes_per_image
    assert net.predict_proba(x).shape == (20, 10)


def net_fit(net: Network, x: np.ndarray, batch_size: int) -> None:
    from engine.training import fit

    fit(net, (x, np.arange(len(x)) % 10), epochs=1, batch_size=batch_size)


def test_estimate_counts_parameters_and_grows_with_the_maps():
    small, padded = limits.estimate(TINY), limits.estimate({**TINY, "layers": [
        {"type": "conv", "filters": 2, "kernel": 5, "padding": 10}, *TINY["layers"][1:]]})
    assert small.params == sum(i.params for i in Network(TINY).infos)
    assert padded.train_bytes_per_image > 2 * small.train_bytes_per_image
    assert small.inference_bytes_per_image < small.train_bytes_per_image


def test_format_and_parse_sizes():
    assert limits.parse_size("2GiB") == 2 << 30 and limits.parse_size(" 512 MiB ") == 512 << 20
    assert limits.parse_size("1e8") == 10**8
    for bad in ("", "-1", "2 GB", "0", "1e400"):
        with pytest.raises(LimitError):
            limits.parse_size(bad)
    assert limits.format_bytes(1536) == "1.5 KiB" and limits.format_bytes(10**400) == "more than 10³⁰⁰ bytes"


# --- error messages of unbounded size -------------------------------------------------------------


def test_listing_stops_at_its_limit_and_counts_the_rest():
    text = listing([f"problem {i}" for i in range(100_000)])
    assert len(text) < 400 and text.endswith("problem 24; … and 99,975 more")
    assert listing(["x" * 10_000]).startswith("x" * 300 + "…")
    assert len(str(SpecError(["y" * 10**6] * 10))) < 400


# --- one clean error for every bad input ----------------------------------------------------------


def test_json_from_files_is_bounded_in_depth_and_digits():
    def error(why: str) -> ValueError:
        return ValueError(why)

    assert parse(nested_list(MAX_DEPTH), error) is not None
    for text, phrase in [
        (nested_list(MAX_DEPTH + 1), "nested too deeply"),
        (nested_list(100_000), "nested too deeply"),
        ("1" * 5000, "5,000 digits"),
        (b"\xff", "not UTF-8"),
        ("{nope", "not valid JSON"),
    ]:
        with pytest.raises(ValueError, match=phrase):
            parse(text, error)


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_permission_denied_is_named_as_such(tmp_path, monkeypatch):
    path = weight_file(tmp_path / "m.safetensors")

    def refuse(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(WeightFileError, match="permission denied"):
        load(path)
    with pytest.raises(DataError, match="permission denied"):
        open_regular(path)


@pytest.mark.parametrize(
    ("config", "phrase"),
    [
        ({"beta1": 1}, "beta1 must be ≥ 0 and < 1, got 1"),
        ({"beta2": 2}, "beta2 must be"),
        ({"eps": float("nan")}, "eps must be a finite number"),
        ({"lr": "0.1"}, "lr must be a number, got '0.1'"),
    ],
)
def test_optimizer_settings_are_checked_in_type_and_range(config, phrase):
    with pytest.raises(ValueError, match=phrase):
        Adam(**config)
    with pytest.raises(ValueError, match="momentum must be"):
        SGD(momentum=1.0)


def test_weight_file_metadata_is_checked_in_type_and_range(tmp_path):
    for header, phrase in [
        ({"training": json.dumps({"epochs": 1, "metrics": {"val_acc": "high"}})}, "metrics must map"),
        ({"training": json.dumps({"dataset": {"class_names": ["x" * 101]}})}, "at most 100 characters"),
        ({"training": json.dumps({"dataset": {"name": 5}})}, "name must be text"),
        ({"network": json.dumps({"init": "he", "seed": 2**64, "dtype": "float32"})}, "seed"),
        ({"network": json.dumps({"init": ["he"], "seed": 0, "dtype": "float32"})}, "unknown init"),
    ]:
        with pytest.raises(WeightFileError, match=phrase):
            load(weight_file(tmp_path / "m.safetensors", header=header))


def test_an_npy_header_numpy_cannot_tokenize_is_a_data_error(tmp_path):
    """Found by the fuzzer: an unclosed parenthesis in the header made NumPy raise TokenError."""
    header = npy_header((20, 28, 28))
    broken = header.replace(b"}", b"}(", 1)[: len(header)]
    x, y = broken + bytes(20 * 784), npy(np.arange(20))
    zip64(tmp_path / "d.npz", {"x.npy": (x, len(x), False), "y.npy": (y, len(y), False)})
    with pytest.raises(DataError, match="array 'x' in .*d.npz: is not a readable .npy array"):
        load_dataset(tmp_path / "d.npz")


def test_pixels_are_checked_after_the_float32_conversion(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((20, 4, 4))
    x[3, 1, 1] = 1e39  # finite in float64, inf in float32
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(DataError, match="d.npz.*beyond float32's range"):
        load_dataset(tmp_path / "d.npz")


# --- files left behind ----------------------------------------------------------------------------


def test_a_save_keeps_the_mode_writes_through_a_symlink_and_clears_stale_temp_files(tmp_path):
    net = Network(TINY)
    target = tmp_path / "real.safetensors"
    save(net, target)
    target.chmod(0o600)
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead = subprocess.run(command, capture_output=True, text=True)
    stale = tmp_path / f".real.safetensors.{dead.stdout.strip()}.0123abcd.tmp"
    stale.write_bytes(b"left by a killed save")
    ours = tmp_path / f".real.safetensors.{os.getpid()}.89abcdef.tmp"  # a save in progress here
    ours.write_bytes(b"")
    other = tmp_path / ".other.safetensors.1.0123abcd.tmp"  # another file's, not ours to judge
    other.write_bytes(b"")

    save(net, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not stale.exists() and ours.exists() and other.exists()
    assert load(link).spec == net.spec
