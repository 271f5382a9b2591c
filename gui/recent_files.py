"""The File ▸ Open Recent menu, kept in QSettings so it survives a restart."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMenu, QWidget

from gui.naming import named

KEY = "recentFiles"
LIMIT = 8


class RecentFiles(QObject):
    """Most recent first; choosing an entry emits `openRequested` with its path."""

    openRequested = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self._settings = settings
        self.menu = named(QMenu("Open &Recent", parent), "recentMenu")
        self.menu.setToolTipsVisible(True)
        self._rebuild()

    def paths(self) -> list[str]:
        value = self._settings.value(KEY, [], type=list)
        return [str(p) for p in value]

    def add(self, path: str) -> None:
        path = os.path.abspath(path)
        paths = [path, *(p for p in self.paths() if p != path)][:LIMIT]
        self._settings.setValue(KEY, paths)
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for n, path in enumerate(paths, 1):
            action = self.menu.addAction(f"&{n} {os.path.basename(path) or path}")
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.openRequested.emit(p))
        self.menu.setEnabled(bool(paths))
