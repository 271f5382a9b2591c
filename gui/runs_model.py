"""The runs list: the stored runs in the session's runs folder, which of them are picked for
comparison, renaming and deleting them, and what the comparison shows (each picked run's curves,
its settings side by side with the rows that differ marked, its final metrics). Qt-free: the
runs dock renders it."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.runs import RunRecord, delete_run, rename_run
from engine.spec import describe, shape_text
from gui.session import Session

#: The final metrics the comparison lists: (key, label, whether higher is better).
METRICS = (
    ("val_acc", "validation accuracy", True),
    ("val_loss", "validation loss", False),
    ("train_acc", "training accuracy", True),
    ("train_loss", "training loss", False),
)


@dataclass(frozen=True)
class Curves:
    """A picked run's scores per epoch (NaN where not known); `colour`: its place in the pick, so
    the picked runs draw in distinct colours."""

    name: str
    colour: int
    epochs: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    train_acc: np.ndarray
    val_acc: np.ndarray


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a value per picked run. `differs`: the settings are not all
    the same; `best`: the run with the best metric (None when it ties or is unknown)."""

    label: str
    values: tuple[str, ...]
    differs: bool = False
    best: int | None = None


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _settings(run: RunRecord) -> dict[str, str]:
    """What a run was: its data, its network layer by layer, and its training settings."""
    spec = run.spec
    rows = {
        "data set": run.dataset,
        "input": shape_text(spec["input"]),
        "classes": str(spec["classes"]),
    }
    for i, layer in enumerate(spec["layers"], start=1):
        rows[f"layer {i}"] = f"{layer['type']}: {describe(layer)}"
    rows.update({key.replace("_", " "): _text(value) for key, value in run.settings.items()})
    return rows


def _series(run: RunRecord, key: str) -> np.ndarray:
    return np.array([math.nan if e[key] is None else e[key] for e in run.history], dtype=np.float64)


class RunsModel:
    """The runs of `session.runs_folder` (the one owner of where runs go), read again by
    :meth:`refresh`, and the picked ones in the order of the list."""

    def __init__(self, session: Session):
        self.session = session
        self.runs: list[RunRecord] = []
        #: A message per damaged run folder the last refresh skipped.
        self.skipped: list[str] = []
        self._picked: set[Path] = set()

    @property
    def folder(self) -> Path | None:
        folder = self.session.runs_folder
        return None if folder is None else Path(folder)

    def set_folder(self, folder: str | os.PathLike[str]) -> str:
        """Keep runs in `folder` from now on, and list the runs there."""
        self.session.runs_folder = Path(folder)
        self._picked.clear()
        self.refresh()
        return f"Runs are kept in {folder}."

    def refresh(self) -> None:
        """Read the runs folder again; a picked run that is gone is no longer picked."""
        self.runs, self.skipped = self.session.list_runs()
        self._picked &= {run.folder for run in self.runs}

    def run(self, folder: Path) -> RunRecord:
        return next(run for run in self.runs if run.folder == folder)

    def pick(self, folders: Iterable[Path]) -> None:
        self._picked = set(folders) & {run.folder for run in self.runs}

    @property
    def picked(self) -> list[RunRecord]:
        return [run for run in self.runs if run.folder in self._picked]

    def rename(self, folder: Path, name: str) -> str:
        """Give the run in `folder` a new name, on disk and here; a bad name raises
        :class:`RunFolderError` and changes nothing."""
        old = self.run(folder)
        new = rename_run(old, name)
        self.runs = [new if run.folder == folder else run for run in self.runs]
        return f"Renamed the run {old.name!r} to {new.name!r}."

    def delete(self, folder: Path) -> str:
        run = self.run(folder)
        delete_run(run)
        self.runs.remove(run)
        self._picked.discard(folder)
        return f"Deleted the run {run.name!r}."

    # -- the comparison ------------------------------------------------------------------------

    def curves(self) -> list[Curves]:
        return [
            Curves(
                run.name,
                colour,
                _series(run, "epoch"),
                _series(run, "train_loss"),
                _series(run, "val_loss"),
                _series(run, "train_acc"),
                _series(run, "val_acc"),
            )
            for colour, run in enumerate(self.picked)
        ]

    def settings_rows(self) -> list[Row]:
        """Every setting any picked run has, in the order they first appear; `differs` where the
        runs' values are not all the same ("—" where a run has no such setting, as a network
        with fewer layers)."""
        each = [_settings(run) for run in self.picked]
        labels = list(dict.fromkeys(label for settings in each for label in settings))
        rows = []
        for label in labels:
            values = tuple(settings.get(label, "—") for settings in each)
            rows.append(Row(label, values, differs=len(set(values)) > 1))
        return rows

    def metric_rows(self) -> list[Row]:
        """The picked runs' epochs, training time and final metrics; `best` marks the highest
        accuracy and the lowest loss when one run has it alone."""
        picked = self.picked
        rows = [Row("epochs", tuple(str(len(run.history)) for run in picked))]
        seconds = [[e["seconds"] for e in run.history] for run in picked]
        rows.append(Row("training time", tuple(
            "—" if None in s else f"{sum(s):.1f} s" for s in seconds  # type: ignore[arg-type]
        )))
        for key, label, higher in METRICS:
            values = [run.metrics[key] for run in picked]
            known = [v for v in values if v is not None]
            top = (max if higher else min)(known) if known else None
            alone = top is not None and known.count(top) == 1 and len(picked) > 1
            best = values.index(top) if alone else None
            percent = key.endswith("acc")
            texts = tuple("—" if v is None else f"{v:.2%}" if percent else f"{v:.4f}" for v in values)
            rows.append(Row(label, texts, best=best))
        return rows
