"""Training runs kept between launches: one small folder each in a runs folder.

A run folder holds `run.json` (its name, when it was made, the data set's name and the training
settings), `spec.json`, `history.json` (each epoch's scores), `metrics.json` (the final scores)
and `weights.safetensors` (a weight file as :mod:`engine.weights` writes it). A run is written
whole into a hidden folder and renamed into place, and each later change is an atomic file
write, so a crash never leaves half a run. A run folder is user input like any file: one that
cannot be read is skipped with a message naming it, never a crash."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from engine import jsontext
from engine.atomic_file import write_atomic
from engine.bounded_io import read_regular
from engine.data import MAX_NAME, Dataset
from engine.errors import ConvScopeError, RunFolderError, SpecError, clip
from engine.network import Network
from engine.optim import Optimizer
from engine.spec import normalize
from engine.training import EpochInfo
from engine.weights import save

RUN_FILE, SPEC_FILE, HISTORY_FILE, METRICS_FILE = "run.json", "spec.json", "history.json", "metrics.json"
WEIGHTS_FILE = "weights.safetensors"
#: Each epoch's record in history.json; the final scores in metrics.json are the last four.
EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
METRIC_FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc")
#: A JSON file in a run folder; a history of 100,000 epochs is about 15 MiB.
MAX_JSON_BYTES = 32 << 20
#: A run folder's name: the time it was made (to the microsecond, so names sort as runs were made)
#: and a random suffix, so two runs never collide.
_FOLDER = re.compile(r"run-[0-9]{8}T[0-9]{6}\.[0-9]{6}-[0-9a-f]{6}")


ENV_VAR = "CONVSCOPE_RUNS"


def default_folder() -> Path:
    """Where runs go unless the user chose a folder: $CONVSCOPE_RUNS, else the platform's per-user
    data folder (platformdirs)."""
    chosen = os.environ.get(ENV_VAR)
    return Path(chosen) if chosen else platformdirs.user_data_path("convscope", appauthor=False) / "runs"


@dataclass(frozen=True)
class RunRecord:
    """A stored run, as read from its folder."""

    folder: Path
    name: str
    created: str  # ISO 8601, UTC
    dataset: str
    #: The training settings (plain values: :meth:`engine.recipe.Recipe.settings`).
    settings: dict[str, Any]
    spec: dict[str, Any]
    history: list[dict[str, float | None]]
    metrics: dict[str, float | None]

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE


def _is_control(c: str) -> bool:
    return ord(c) < 32 or ord(c) == 127


def name_problem(name: Any) -> str | None:
    """Why `name` cannot name a run, or None."""
    if not isinstance(name, str) or not name.strip():
        return "a run's name must be some text"
    if len(name) > MAX_NAME:
        return f"a run's name may be at most {MAX_NAME} characters (this one has {len(name):,})"
    if any(map(_is_control, name)):
        return "a run's name may not hold control characters"
    return None


def default_name(dataset: str, details: str) -> str:
    """A run's name: the data set's name, shortened with … where it would make the name longer
    than a run's may be, then `details` (the training settings). A file's name may hold control
    characters, which a run's may not: each becomes a space."""
    dataset = "".join(" " if _is_control(c) else c for c in dataset)
    room = MAX_NAME - len(details)
    return (dataset if len(dataset) <= room else dataset[: room - 1] + "…") + details


def epoch_record(info: EpochInfo) -> dict[str, float | None]:
    return {k: getattr(info, k) for k in EPOCH_FIELDS}


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, allow_nan=False) + "\n").encode()


def save_run(
    folder: str | os.PathLike[str],
    net: Network,
    *,
    name: str,
    dataset: Dataset,
    settings: dict[str, Any],
    history: Sequence[EpochInfo],
    optimizer: Optimizer | None = None,
) -> RunRecord:
    """Store a finished run in `folder` (made if missing) and return it as read back."""
    if problem := name_problem(name):
        raise RunFolderError(problem)
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot make the runs folder ({exc.strerror or exc})") from None
    seconds, micro = divmod(time.time_ns() // 1000, 1_000_000)
    now = time.gmtime(seconds)
    final = folder / f"run-{time.strftime('%Y%m%dT%H%M%S', now)}.{micro:06d}-{secrets.token_hex(3)}"
    hidden = folder / f".{final.name}.{os.getpid()}.tmp"
    epochs = [epoch_record(info) for info in history]
    last = epochs[-1] if epochs else {}
    files = {
        RUN_FILE: {
            "name": name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
            "dataset": dataset.name,
            "settings": settings,
        },
        SPEC_FILE: net.spec,
        HISTORY_FILE: epochs,
        METRICS_FILE: {k: last.get(k) for k in METRIC_FIELDS},
    }
    try:
        hidden.mkdir()
        for file, value in files.items():
            write_atomic(hidden / file, _json(value))
        save(net, hidden / WEIGHTS_FILE, optimizer=optimizer, dataset=dataset)
        os.rename(hidden, final)
    except OSError as exc:
        shutil.rmtree(hidden, ignore_errors=True)
        raise RunFolderError(f"{folder}: cannot store the run ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(hidden, ignore_errors=True)
        raise
    return read_run(final)


def _read_json(path: Path) -> Any:
    def error(why: str) -> RunFolderError:
        return RunFolderError(f"{path}: {why}" if not why.startswith(os.fspath(path)) else why)

    return jsontext.parse(read_regular(path, MAX_JSON_BYTES, error, "run file"), error)


def _number_or_none(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scores(path: Path, value: Any, fields: Sequence[str]) -> dict[str, float | None]:
    if not isinstance(value, dict) or set(value) != set(fields):
        raise RunFolderError(f"{path}: must be an object with {', '.join(fields)}")
    bad = [k for k in fields if not _number_or_none(value[k])]
    if bad:
        raise RunFolderError(f"{path}: {clip(', '.join(bad), 80)} must be numbers or null")
    return {k: value[k] for k in fields}


def read_run(folder: str | os.PathLike[str]) -> RunRecord:
    """The run stored in `folder`; :class:`RunFolderError` says what is damaged."""
    folder = Path(folder)
    run = _read_json(folder / RUN_FILE)
    if not isinstance(run, dict):
        raise RunFolderError(f"{folder / RUN_FILE}: must be an object")
    if problem := name_problem(run.get("name")):
        raise RunFolderError(f"{folder / RUN_FILE}: {problem}")
    for key in ("created", "dataset"):
        if not isinstance(run.get(key), str) or len(run[key]) > MAX_NAME:
            raise RunFolderError(f"{folder / RUN_FILE}: {key} must be a short text")
    settings = run.get("settings")
    if not isinstance(settings, dict) or not all(
        isinstance(v, str) and len(v) <= MAX_NAME or isinstance(v, bool) or _number_or_none(v)
        for v in settings.values()
    ):
        raise RunFolderError(
            f"{folder / RUN_FILE}: settings must map names to numbers, true or false, or short texts"
        )
    try:
        spec = normalize(_read_json(folder / SPEC_FILE))
    except SpecError as exc:
        raise RunFolderError(f"{folder / SPEC_FILE}: {exc.problems[0]}") from None
    history = _read_json(folder / HISTORY_FILE)
    if not isinstance(history, list):
        raise RunFolderError(f"{folder / HISTORY_FILE}: must be a list of epochs")
    epochs = [_scores(folder / HISTORY_FILE, epoch, EPOCH_FIELDS) for epoch in history]
    metrics = _scores(folder / METRICS_FILE, _read_json(folder / METRICS_FILE), METRIC_FIELDS)
    if not (folder / WEIGHTS_FILE).is_file():
        raise RunFolderError(f"{folder}: has no {WEIGHTS_FILE}")
    return RunRecord(folder, run["name"], run["created"], run["dataset"], settings, spec, epochs, metrics)


#: The columns of a run's one-line summary (:func:`summary_row`), in `convscope runs` and the window.
SUMMARY_COLUMNS = ("name", "created (UTC)", "data", "epochs", "val acc", "val loss")


def summary_row(run: RunRecord) -> tuple[str, ...]:
    """A run's name, date, data set, epochs and final validation scores, as text."""
    acc, loss = run.metrics["val_acc"], run.metrics["val_loss"]
    return (
        run.name, run.created.replace("T", " ")[:16], run.dataset, str(len(run.history)),
        "—" if acc is None else f"{acc:.2%}", "—" if loss is None else f"{loss:.4f}",
    )


def load_runs(folder: str | os.PathLike[str]) -> tuple[list[RunRecord], list[str]]:
    """Every run in `folder`, oldest first, and a message for each run folder that was skipped
    because it is damaged. A missing runs folder holds no runs."""
    folder = Path(folder)
    try:
        names = sorted(e.name for e in os.scandir(folder) if _FOLDER.fullmatch(e.name) and e.is_dir())
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot list the runs folder ({exc.strerror or exc})") from None
    runs, skipped = [], []
    for name in names:
        try:
            runs.append(read_run(folder / name))
        except ConvScopeError as exc:
            skipped.append(f"skipped the damaged run {name}: {clip(exc)}")
    return runs, skipped


def rename_run(run: RunRecord, name: str) -> RunRecord:
    if problem := name_problem(name):
        raise RunFolderError(problem)
    path = run.folder / RUN_FILE
    value = {"name": name, "created": run.created, "dataset": run.dataset, "settings": run.settings}
    try:
        write_atomic(path, _json(value))
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot rename the run ({exc.strerror or exc})") from None
    return read_run(run.folder)


def delete_run(run: RunRecord) -> None:
    """Remove the run's folder: first renamed out of the listing, so a failure midway never
    leaves a damaged run behind."""
    gone = run.folder.with_name(f".{run.folder.name}.{os.getpid()}.deleted")
    try:
        os.rename(run.folder, gone)
    except OSError as exc:
        raise RunFolderError(f"{run.folder}: cannot delete the run ({exc.strerror or exc})") from None
    shutil.rmtree(gone, ignore_errors=True)
