"""Whether Qt's platform plugin can load, asked before Qt is: Qt itself aborts the process.

Without a display, or with a system library that the plugin needs missing (a fresh Debian lacks
several), creating the QApplication ends in SIGABRT, and importing QtWidgets fails outright
without libGL. This module reads the environment and loads the plugin Qt would load (which Qt
then finds loaded, so a good start costs nothing more); where that fails, `ldd` names every
library missing, so the launcher can say what is wrong, what installs it and how to train
without a window. Nothing here imports Qt."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HEADLESS = "convscope train trains from the terminal without a window"

#: The Debian/Ubuntu package of each library Qt's platform plugins link, checked with `dpkg -S`
#: in a minimal Debian 12 image (README: "System packages").
PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

_NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


def platform_name() -> str | None:
    """The platform plugin Qt will try first: QT_QPA_PLATFORM's, else Wayland or X11 from the
    session; None when there is no display to show a window on."""
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    if os.environ.get("DISPLAY"):
        return "xcb"
    return None


def plugin_path(name: str) -> Path | None:
    """The platform plugin file Qt would load for `name`, searched where Qt searches."""
    folders = [Path(p) for p in os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders += [Path(p) / "platforms" for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.submodule_search_locations:
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms")
    for folder in folders:
        plugin = folder / f"libq{name}.so"
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(plugin: Path) -> list[str] | None:
    """The libraries `plugin` needs that the dynamic loader cannot find (`ldd`), or None when
    that cannot be asked here."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        result = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted(set(_NOT_FOUND.findall(result.stdout)))


def install_advice(missing: list[str]) -> str:
    """The apt-get command for the libraries we know the package of, and how to find the rest."""
    packages = sorted({PACKAGES[lib] for lib in missing if lib in PACKAGES})
    unknown = [lib for lib in missing if lib not in PACKAGES]
    lines = []
    if packages:
        lines.append(f"Install them with:  sudo apt-get install {' '.join(packages)}")
    if unknown:
        lines.append(f"Find the package of {', '.join(unknown)} with:  apt-file search {unknown[0]}")
    return "\n".join(lines)


def platform_problem() -> str | None:
    """What stops Qt from opening a window here, said for the user, or None (also where it cannot
    be told, off Linux or without ldd: Qt then reports for itself)."""
    if not sys.platform.startswith("linux"):
        return None
    name = platform_name()
    if name is None:
        return (
            "convscope: no display (DISPLAY and WAYLAND_DISPLAY are unset): set QT_QPA_PLATFORM=offscreen "
            "to run the window unseen, or use convscope train to train from the terminal"
        )
    plugin = plugin_path(name)
    if plugin is None:
        return (
            f"convscope: Qt's {name!r} platform plugin (libq{name}.so) is not installed; "
            f"reinstall PySide6, or set QT_QPA_PLATFORM to another platform. {HEADLESS}."
        )
    try:
        ctypes.CDLL(str(plugin))
        return None
    except OSError as exc:
        error = str(exc)
    missing = missing_libraries(plugin)
    if not missing:  # not a missing library (or no ldd here): the loader's own words
        return f"convscope: Qt's {name} platform plugin cannot load: {error}\n{HEADLESS}."
    return "\n".join(
        [
            f"convscope: Qt's {name} platform plugin cannot load: the system lacks {', '.join(missing)}",
            f"  ({plugin}).",
            install_advice(missing),
            f"Meanwhile, {HEADLESS}.",
        ]
    )
