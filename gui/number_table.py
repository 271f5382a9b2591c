"""A small array's numbers in a table whose cells are coloured as the mosaics draw them.

A QTableWidget: Qt paints it in C++, so an open table never holds the GIL while it paints; only
setting its numbers (once per snapshot, while it is shown) runs Python, per cell."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QHeaderView,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
)

from gui import theme

#: Text on a cell darker than this (0-255 luminance) is white.
DARK = 110


def cell_text(value: float) -> str:
    """A weight as the tables write it: signed, three decimals."""
    return f"{value:+.3f}"


class NumberTable(QTableWidget):
    """`values` (H, W) as numbers, rows and columns numbered from 0 like the views' hover text."""

    def __init__(self, colormap: str, parent=None):
        super().__init__(parent)
        self._colormap = colormap
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # every cell, or scroll
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        metrics = self.fontMetrics()
        widest = max(metrics.horizontalAdvance(cell_text(v)) for v in (-8.888, 8.888))
        for header, size in (
            (self.horizontalHeader(), widest + 16),
            (self.verticalHeader(), metrics.height() + 10),
        ):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setMinimumSectionSize(size)
            header.setDefaultSectionSize(size)

    def set_values(self, values: np.ndarray, levels: tuple[float, float]) -> None:
        """Show `values`, each cell coloured by where it falls between `levels`."""
        rows, cols = values.shape
        if (self.rowCount(), self.columnCount()) != (rows, cols):
            self.setRowCount(rows)
            self.setColumnCount(cols)
            self.setVerticalHeaderLabels([str(r) for r in range(rows)])
            self.setHorizontalHeaderLabels([str(c) for c in range(cols)])
            for r in range(rows):
                for c in range(cols):
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.setItem(r, c, item)
        colours = theme.to_rgba(values, levels, self._colormap)
        light = colours[..., :3] @ np.array([0.299, 0.587, 0.114]) > DARK
        for r in range(rows):
            for c in range(cols):
                item = self.item(r, c)
                item.setText(cell_text(float(values[r, c])))
                item.setBackground(QColor(*map(int, colours[r, c, :3])))
                item.setForeground(QColor("black" if light[r, c] else "white"))
