"""A small array drawn as a grid of grey cells, with its numbers written in when the cells are
large enough, a padding ring in its own colour, and a highlighted window; a click names the
cell. The kernel explainer draws its input and its output with it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme

PADDING_COLOUR = QColor("#f3d9a4")
WINDOW_COLOUR = QColor("#f2c200")  # the notes' yellow window
EMPTY_COLOUR = QColor("#f4f4f4")
#: Cells narrower than this (pixels) show no numbers.
NUMBERS_FROM = 22


def number_text(v: float) -> str:
    """A cell's value as the explainer writes it: whole numbers plainly, others to 2 decimals
    (a negative that rounds to zero is written 0, not -0)."""
    v = float(v)
    text = f"{v:.0f}" if v.is_integer() else f"{v:.2f}"
    return text[1:] if text in ("-0", "-0.00") else text


class CellGrid(QWidget):
    """`values` (H, W) with NaN for a cell not filled yet; `ring` (top, bottom, left, right)
    outer rows and columns are padding; `window` (row, col, height, width) is outlined."""

    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values = np.zeros((1, 1), dtype=np.float32)
        self.ring = (0, 0, 0, 0)
        self.window: tuple[int, int, int, int] | None = None
        self.marked: tuple[int, int] | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    def show_values(
        self,
        values: np.ndarray,
        ring: tuple[int, int, int, int] = (0, 0, 0, 0),
        window: tuple[int, int, int, int] | None = None,
        marked: tuple[int, int] | None = None,
    ) -> None:
        """Draw `values`; `marked` (row, col) is a cell drawn with a thick edge (the maximum a
        max pool keeps)."""
        self.values, self.ring, self.window, self.marked = np.asarray(values), ring, window, marked
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def cell_size(self) -> float:
        h, w = self.values.shape
        return max(min(self.width() / w, self.height() / h), 1.0)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        size = self.cell_size()
        row, col = int(y // size), int(x // size)
        h, w = self.values.shape
        return (row, col) if 0 <= row < h and 0 <= col < w else None

    def cell_centre(self, row: int, col: int) -> tuple[float, float]:
        size = self.cell_size()
        return ((col + 0.5) * size, (row + 0.5) * size)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        at = self.cell_at(event.position().x(), event.position().y())
        if at is not None:
            self.cellClicked.emit(*at)

    def _grey(self, v: float, low: float, high: float) -> QColor:
        level = 0.5 if high == low else (v - low) / (high - low)
        g = int(255 - 200 * level)
        return QColor(g, g, g)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        size = self.cell_size()
        h, w = self.values.shape
        top, bottom, left, right = self.ring
        finite = self.values[np.isfinite(self.values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        numbers = size >= NUMBERS_FROM
        font = painter.font()
        font.setPixelSize(max(int(size * 0.32), 8))
        painter.setFont(font)
        painter.setPen(QPen(QColor("#c8c8c8"), 1))
        for r in range(h):
            for c in range(w):
                v = float(self.values[r, c])
                rect = QRectF(c * size, r * size, size, size)
                in_ring = r < top or r >= h - bottom or c < left or c >= w - right
                if not np.isfinite(v):
                    fill = EMPTY_COLOUR
                else:
                    fill = PADDING_COLOUR if in_ring else self._grey(v, low, high)
                painter.fillRect(rect, fill)
                painter.drawRect(rect)
                if numbers and np.isfinite(v):
                    dark = fill.lightness() < 128
                    painter.setPen(QColor("white" if dark else theme.FOREGROUND))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, number_text(v))
                    painter.setPen(QPen(QColor("#c8c8c8"), 1))
        if self.window is not None:
            r, c, kh, kw = self.window
            painter.setPen(QPen(WINDOW_COLOUR, max(size * 0.12, 2)))
            painter.drawRect(QRectF(c * size, r * size, kw * size, kh * size))
        if self.marked is not None:
            r, c = self.marked
            painter.setPen(QPen(QColor(theme.WRONG), max(size * 0.1, 2)))
            painter.drawRect(QRectF(c * size, r * size, size, size))
        painter.end()
