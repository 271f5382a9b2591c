"""The drawing pad: ink on black with the mouse or a pen, a brush size and colour, clear and
undo. It hands out its ink as an array, grey or colour; what the network makes of it is the
caller's."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

#: The pad's own resolution (pixels), scaled to whatever size the widget has.
PAD_SIZE = 280


class DrawingPad(QWidget):
    """`drawn` is emitted after each change of the ink (a stroke's every move, clear, undo)."""

    drawn = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = QImage(PAD_SIZE, PAD_SIZE, QImage.Format.Format_RGB888)
        self.image.fill(QColor("black"))
        self.brush = 18
        #: The ink's colour; white for a grey network's pad.
        self.colour = QColor("white")
        #: Whether ink() hands out colour (3, H, W) rather than grey (H, W).
        self.in_colour = False
        self._undo: list[QImage] = []
        self._last: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(140, 140)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:
        return QSize(PAD_SIZE, PAD_SIZE)

    def ink(self) -> np.ndarray:
        """The drawing as float32 in [0, 1]: (PAD_SIZE, PAD_SIZE) grey, 1 where white ink is, or
        (3, PAD_SIZE, PAD_SIZE) red, green and blue when the pad is in colour."""
        bits = self.image.constBits()
        rows = np.frombuffer(bits, dtype=np.uint8).reshape(PAD_SIZE, self.image.bytesPerLine())
        rgb = rows[:, : 3 * PAD_SIZE].reshape(PAD_SIZE, PAD_SIZE, 3).astype(np.float32) / 255.0
        return rgb.transpose(2, 0, 1).copy() if self.in_colour else rgb.mean(axis=2)

    def set_colour_mode(self, on: bool) -> None:
        """Colour ink for a colour network; a grey pad inks white again."""
        self.in_colour = on
        if not on:
            self.colour = QColor("white")

    def clear(self) -> None:
        self._undo.append(self.image.copy())
        self.image.fill(QColor("black"))
        self.update()
        self.drawn.emit()

    def undo(self) -> bool:
        """Take back the last stroke (or clear); False when there is nothing to take back."""
        if not self._undo:
            return False
        self.image = self._undo.pop()
        self.update()
        self.drawn.emit()
        return True

    def _scale(self) -> float:
        return min(self.width(), self.height()) / PAD_SIZE

    def _pad_point(self, event: QMouseEvent) -> QPointF:
        return event.position() / self._scale()

    def _draw_to(self, point: QPointF) -> None:
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.colour, self.brush, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(self._last or point, point)
        painter.end()
        self._last = point
        self.update()
        self.drawn.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._undo.append(self.image.copy())
            self._last = None
            self._draw_to(self._pad_point(event))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._draw_to(self._pad_point(event))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._last = None

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        side = PAD_SIZE * self._scale()
        painter.drawImage(0, 0, self.image.scaled(int(side), int(side)))
        painter.setPen(QColor("#808080"))
        painter.drawRect(0, 0, int(side) - 1, int(side) - 1)
        painter.end()
