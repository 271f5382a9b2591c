"""The window's preferences: a planted pickle is never loaded, a damaged value gives way to its
default with one notice, and everything the window writes reads back as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import PySide6
import pytest
from PySide6.QtCore import QByteArray, QSettings

from engine.limits import ENV_VARS
from engine.parallel import THREADS_VAR
from engine.recipe import DEFAULT_RECIPE
from gui.preferences import Preferences

PLANT = textwrap.dedent(
    """
    import os, sys
    from PySide6.QtCore import QSettings

    class Payload:
        def __init__(self, marker):
            self.marker = marker

        def __reduce__(self):  # unpickling this creates the marker file
            return (open, (self.marker, "w"))

    settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
    settings.setValue("training/epochs", 7)
    settings.setValue("training/lr", Payload(sys.argv[2] + ".lr"))
    for name in ("general", "listed", "escaped"):
        settings.setValue(name, Payload(f"{sys.argv[2]}.{name}"))
    settings.sync()
    """
)
READ_ALL = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QSettings

    settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
    for key in settings.allKeys():
        settings.value(key)
    """
)


def _python(code: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-c", code, *args], check=True, timeout=120, capture_output=True, text=True
    )


def _plant(tmp_path):
    """An INI file as a window would have written it, with pickled objects in three forms: as
    PySide writes one, one hidden in a list, and one whose "@" is an escape."""
    path, marker = tmp_path / "planted.ini", tmp_path / "unpickled"
    _python(PLANT, str(path), str(marker))
    lines = path.read_text().splitlines()
    values = {line.partition("=")[0]: line.partition("=")[2] for line in lines}
    lines = [line for line in lines if not line.startswith(("listed=", "escaped="))]
    lines.insert(lines.index("[General]") + 1, f"recentFiles=/tmp/a.npz, {values['listed']}")
    text = "\n".join([*lines, "[window]", f"geometry=\\x40{values['escaped'][1:]}", ""])
    path.write_text(text)
    return path, marker


def _markers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("unpickled"))


def test_the_planted_pickles_would_run_if_qt_read_them(tmp_path):
    """The control: the payloads are live, so the test below can fail. From PySide6 6.12 on,
    Qt itself refuses to unpickle anything but builtin types, and the control checks that."""
    path, _ = _plant(tmp_path)
    if PySide6.__version_info__ >= (6, 12):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            _python(READ_ALL, str(path))
        assert "Failed to deserialize Python object" in refused.value.stderr
        assert _markers(tmp_path) == []
        return
    _python(READ_ALL, str(path))
    assert _markers(tmp_path) == [
        "unpickled.escaped",
        "unpickled.general",
        "unpickled.listed",
        "unpickled.lr",
    ]


def test_a_planted_pickle_is_never_loaded(qtbot, tmp_path, small_data):
    from gui.main_window import MainWindow

    path, _ = _plant(tmp_path)
    window = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), dataset=small_data)
    qtbot.addWidget(window)
    window.show()
    window.close()  # the preferences are written again, through Qt
    assert _markers(tmp_path) == []
    assert "Variant" not in path.read_text()
    notice = window.statusBar().currentMessage()
    assert set(notice.partition("(the log says why): ")[2].split(", ")) == {
        "lr",
        "general",
        "recentFiles",
        "geometry",
    }
    assert ("lr", "not a plain value, ignored unread") in window.preferences.problems
    assert window.settings_panel.epochs_spin.value() == 7  # the plain values around them are kept
    assert window.settings_panel.lr_spin.value() == DEFAULT_RECIPE.lr


DAMAGED = {
    "epochs": "abc",
    "batch_size": "100000000000000000000",
    "lr": "nan",
    "momentum": "2",
    "l2": "-1",
    "seed": "1.5",
    "optimizer": "rmsprop",
}


def test_damaged_preferences_give_way_to_their_defaults_with_one_notice(
    qtbot, tmp_path, small_data, monkeypatch, caplog
):
    from gui.main_window import MainWindow

    path = tmp_path / "damaged.ini"
    lines = [f"{key}={value}" for key, value in DAMAGED.items()]
    path.write_text("[training]\n" + "\n".join([*lines, "schedule=step", "threads=1"]) + "\n")
    monkeypatch.setenv(THREADS_VAR, "abc")
    monkeypatch.setenv(ENV_VARS["max_params"], "lots")
    notices = []
    monkeypatch.setattr(MainWindow, "notify", lambda self, text: notices.append(text))
    window = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), dataset=small_data)
    qtbot.addWidget(window)
    (notice,) = notices
    for key in [*(f"training/{key}" for key in DAMAGED), THREADS_VAR, ENV_VARS["max_params"]]:
        assert key in notice
    logged = caplog.text
    for key, value in DAMAGED.items():
        assert f"preference training/{key}: {value!r} is not" in logged
    assert f"preference {THREADS_VAR}: {THREADS_VAR} must be a whole number" in logged
    assert THREADS_VAR not in os.environ  # the engine's default is used from now on
    panel, d = window.settings_panel, DEFAULT_RECIPE
    config = panel.config()
    assert (config.epochs, config.batch_size, config.lr, config.momentum) == (
        d.epochs,
        d.batch_size,
        d.lr,
        d.momentum,
    )
    assert (config.l2, config.seed, config.optimizer) == (d.l2, d.seed, d.optimizer)
    assert (config.schedule, config.threads) == ("step", 1)  # the sound ones are kept


def test_a_rate_beyond_the_box_is_refused_not_clamped(tmp_path):
    path = tmp_path / "p.ini"
    path.write_text("[training]\nlr=100\n")
    preferences = Preferences(QSettings(str(path), QSettings.Format.IniFormat))
    assert preferences.number("training/lr", float, 1e-5, 10.0) is None
    assert preferences.problems == [("training/lr", "'100' is not a number from 1e-05 to 10")]


def test_what_the_window_writes_reads_back_unchanged_and_unrefused(tmp_path):
    path = tmp_path / "p.ini"
    paths = [
        "/home/x y/é 日本/a,b;c\\d\"q'.npz",
        "@at.json",
        " lead",
        "tab\there",
        "\\\\server\\share\\m.safetensors",
        '"quoted".json',
        "/plain.safetensors",
    ]
    geometry = QByteArray(bytes(range(256)))
    writer = Preferences(QSettings(str(path), QSettings.Format.IniFormat))
    writer.set("recentFiles", paths)
    writer.set("window/geometry", geometry)
    writer.set("training/lr", 0.0456)
    writer.settings.sync()
    del writer
    reader = Preferences(QSettings(str(path), QSettings.Format.IniFormat))
    assert reader.problems == []
    assert reader.texts("recentFiles") == paths
    assert reader.data("window/geometry") == geometry
    assert reader.number("training/lr", float, 0, 1) == 0.0456


def test_only_plain_values_are_stored(tmp_path):
    preferences = Preferences(QSettings(str(tmp_path / "p.ini"), QSettings.Format.IniFormat))
    with pytest.raises(TypeError, match="must be a plain value"):
        preferences.set("x", {"a": 1})
    with pytest.raises(TypeError, match="must be a plain value"):
        preferences.set("x", ["a", 2])
