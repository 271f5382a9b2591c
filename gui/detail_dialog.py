"""A dialog that shows one part of a view large (one filter, one feature map) and follows it:
the view redraws it with each update through the `refresh` it passes in."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtWidgets import QDialog, QWidget


class DetailDialog(QDialog):
    """`shown` says which part (None: none, the dialog hidden)."""

    def __init__(self, refresh: Callable[[], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.shown: Hashable | None = None
        self._refresh = refresh

    def open_part(self, part: Hashable) -> None:
        """Show `part`, in front."""
        self.shown = part
        self._refresh()
        if self.shown is not None:
            self.show()
            self.raise_()

    def forget(self) -> None:
        """The part is gone (an edit removed its layer or channel): close."""
        self.shown = None
        self.hide()
