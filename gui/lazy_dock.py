"""Docks that make their contents when first shown.

A dock hidden at start need not cost the window's start anything but its title and its place in
the menus: its widgets (and the modules only they use) are made the first time it is shown, by
whatever shows it (its menu entry, `show()`, a test), before Qt shows it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDockWidget


class BuiltWhenShown(QDockWidget):
    """A dock whose `_build`, which each subclass defines, runs once just before it is first
    shown; `built` says whether it ran."""

    built = False
    _build: Callable[[], None]

    def setVisible(self, visible: bool) -> None:
        if visible and not self.built:
            self.built = True
            self._build()
        super().setVisible(visible)
