"""`convscope` with no arguments checks that Qt can show a window before it asks Qt to: without a
display, or with a platform plugin that misses a system library, it says what to do and exits 1
(Qt itself would abort the process: exit 134)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gui.qt_platform import install_advice

ROOT = Path(__file__).resolve().parents[2]
QT = Path(next(iter(importlib.util.find_spec("PySide6").submodule_search_locations))) / "Qt"
#: A library of the xcb plugin's that every Linux with X has, and a name of the same length that
#: no system has: the copied plugin asks for the second.
PRESENT, ABSENT = b"libxcb-util.so.1", b"libnonexist.so.1"
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_QPA_PLATFORM_PLUGIN_PATH")
DISPLAY_VARS += ("QT_PLUGIN_PATH",)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks Linux's dynamic loader")


def launch(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in DISPLAY_VARS}
    return subprocess.run(
        [sys.executable, "-m", "gui.launch"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **env},
        timeout=120,
    )


def test_without_a_display_it_says_so_in_one_line():
    result = launch()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no display" in lines[0]
    assert "QT_QPA_PLATFORM=offscreen" in lines[0] and "convscope train" in lines[0]


def test_a_platform_plugin_missing_a_library_is_named_with_the_way_out(tmp_path):
    plugin = (QT / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    assert plugin.count(PRESENT + b"\0") == 1
    folder = tmp_path / "platforms"
    folder.mkdir()
    (folder / "libqxcb.so").write_bytes(plugin.replace(PRESENT + b"\0", ABSENT + b"\0"))
    result = launch(
        DISPLAY=":99",
        QT_QPA_PLATFORM="xcb",
        QT_QPA_PLATFORM_PLUGIN_PATH=str(folder),
        LD_LIBRARY_PATH=str(QT / "lib"),  # the copy's own $ORIGIN/../../lib is not there
    )
    assert result.returncode == 1, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("convscope: Qt's xcb platform plugin cannot load: the system lacks "), first
    assert ABSENT.decode() in first
    assert str(folder / "libqxcb.so") in result.stderr
    assert f"apt-file search {ABSENT.decode()}" in result.stderr
    assert "convscope train" in result.stderr


def test_known_libraries_get_the_apt_get_command_that_installs_them():
    advice = install_advice(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libgthread-2.0.so.0"])
    assert advice == "Install them with:  sudo apt-get install libglib2.0-0 libxcb-icccm4 libxcb-keysyms1"


@pytest.mark.parametrize("suffix", [".safetensors", ".json"])
def test_a_weight_file_or_network_named_on_the_command_line_opens_in_the_window(
    qtbot, monkeypatch, settings, small_data, tmp_path, suffix
):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine import Network
    from engine.weights import save
    from gui import launch, main_window

    net = Network(seed=5)
    path = tmp_path / f"model{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({**net.spec, "layers": net.spec["layers"][2:]}))
    else:
        save(net, path, dataset=small_data)
    windows = []

    class Window(main_window.MainWindow):
        def __init__(self, runs_folder=None):
            super().__init__(settings=settings, dataset=small_data)
            qtbot.addWidget(self)
            windows.append(self)

    monkeypatch.setattr(main_window, "MainWindow", Window)
    monkeypatch.setattr(QApplication, "exec", lambda *_: 0)  # the test's event loop, not the app's
    app = QApplication.instance()
    names = app.organizationName(), app.applicationName(), QSettings.defaultFormat()
    try:
        assert launch.main([str(path)]) == 0
    finally:  # what the app sets for itself, put back for the tests after this one
        app.setOrganizationName(names[0])
        app.setApplicationName(names[1])
        QSettings.setDefaultFormat(names[2])
    (window,) = windows
    assert window.isVisible() and not window.last_error
    if suffix == ".json":
        assert window.session.spec["layers"] == net.spec["layers"][2:]
    else:
        assert window.session.weights_path == str(path)
        name = net.layers[0].info.param("weight")
        np.testing.assert_array_equal(window.session.net.params[name], net.params[name])
