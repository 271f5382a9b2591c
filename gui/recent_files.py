"""The File ▸ Open Recent menu, kept in the preferences so it survives a restart."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QWidget

from gui.naming import named
from gui.preferences import Preferences

KEY = "recentFiles"
LIMIT = 8


class RecentFiles(QObject):
    """Most recent first; choosing an entry emits `openRequested` with its path."""

    openRequested = Signal(str)

    def __init__(self, preferences: Preferences, parent: QWidget | None = None):
        super().__init__(parent)
        self._preferences = preferences
        self.menu = named(QMenu("Open &Recent", parent), "recentMenu")
        self.menu.setToolTipsVisible(True)
        self._rebuild()

    def paths(self) -> list[str]:
        return self._preferences.texts(KEY)[:LIMIT]

    def add(self, path: str) -> None:
        path = os.path.abspath(path)
        paths = [path, *(p for p in self.paths() if p != path)][:LIMIT]
        self._preferences.set(KEY, paths)
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for n, path in enumerate(paths, 1):
            action = self.menu.addAction(f"&{n} {os.path.basename(path) or path}")
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.openRequested.emit(p))
        self.menu.setEnabled(bool(paths))
