"""Names for the window's parts: the object name tests and scripts find a part by, the tooltip
that says what it is for, and the name a screen reader reads out."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject

Part = TypeVar("Part", bound=QObject)


def named(part: Part, name: str, tip: str | None = None, accessible: str | None = None) -> Part:
    """`part`, given its object name and, where passed, its tooltip and accessible name."""
    part.setObjectName(name)
    if tip is not None:
        part.setToolTip(tip)
    if accessible is not None:
        part.setAccessibleName(accessible)
    return part
