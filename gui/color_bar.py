"""A horizontal colour bar in plain Qt: a colour map drawn over its levels, round values ticked
and written under it, and what the colours measure under those. The filter view draws it under
its mosaic without pyqtgraph (gui.image_canvas says why)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme

#: The bar's height and its ticks' length, in pixels.
BAR, TICK = 12, 4
#: Round tick steps within a decade.
STEPS = (1.0, 2.0, 5.0)


def ticks(low: float, high: float, most: int) -> list[float]:
    """Round values from `low` to `high`, evenly spaced by 1, 2 or 5 × 10^k, as many as fit in
    `most` (at least the ends' decade)."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return []
    decade = math.floor(math.log10(span))
    for power in range(decade - 3, decade + 2):
        for step in STEPS:
            step *= 10.0**power
            first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
            if last - first + 1 <= max(most, 2):
                return [k * step for k in range(first, last + 1)]
    return [low, high]


def tick_text(value: float, step: float) -> str:
    """A tick's value with the decimals its step needs ('-0.5', '0', '1')."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 3
    return f"{round(value, decimals) + 0.0:g}"


class ColorBar(QWidget):
    """`colormap` over `levels` (set_levels), titled `label`."""

    def __init__(self, colormap: str, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = label
        self._levels = (0.0, 1.0)
        colours = theme.to_rgba(np.linspace(0.0, 1.0, 256, dtype=np.float32)[None, :], (0.0, 1.0), colormap)
        self._gradient = QImage(colours.data, 256, 1, 4 * 256, QImage.Format.Format_RGBA8888).copy()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._pixmap = QPixmap()
        self._drawn: tuple | None = None  # what the pixmap was drawn for

    def levels(self) -> tuple[float, float]:
        return self._levels

    def set_levels(self, levels: tuple[float, float]) -> None:
        self._levels = (float(levels[0]), float(levels[1]))
        self.update()

    def _margin(self) -> int:
        """Room at each end for half of an end label."""
        metrics = self.fontMetrics()
        low, high = self._levels
        return max(metrics.horizontalAdvance(f"{v:g}") for v in (low, high, -8.8)) // 2 + 4

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().height()
        return QSize(160, 2 + BAR + TICK + 2 + line + 4 + line + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, self.sizeHint().height())

    def bar_rect(self) -> QRectF:
        margin = self._margin()
        return QRectF(margin, 2, max(1, self.width() - 2 * margin), BAR)

    def shown_ticks(self) -> list[tuple[float, str]]:
        """The ticks drawn at the bar's width now, with their text."""
        low, high = self._levels
        metrics = self.fontMetrics()
        widest = metrics.horizontalAdvance("-0.00") + metrics.averageCharWidth() * 3 // 2
        values = ticks(low, high, int(self.bar_rect().width() // widest) + 1)
        step = values[1] - values[0] if len(values) > 1 else abs(high - low)
        return [(v, tick_text(v, step)) for v in values]

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draws the bar kept as a pixmap, drawn again only when its size, scale or levels change:
        its text costs more than the repaints under each training update."""
        ratio = self.devicePixelRatioF()
        key = (self.size(), ratio, self._levels)
        if key != self._drawn:
            self._drawn = key
            self._pixmap = QPixmap(self.size() * ratio)
            self._pixmap.setDevicePixelRatio(ratio)
            self._pixmap.fill(Qt.GlobalColor.transparent)
            self._draw(QPainter(self._pixmap))
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        painter.end()

    def _draw(self, painter: QPainter) -> None:
        painter.setFont(self.font())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # a smooth gradient
        bar = self.bar_rect()
        painter.drawImage(bar, self._gradient)
        ink = QColor(theme.FOREGROUND)
        painter.setPen(QPen(ink, 1))
        painter.drawRect(bar)
        low, high = self._levels
        line = self.fontMetrics().height()
        for value, text in self.shown_ticks():
            x = bar.left() + (value - low) / (high - low) * bar.width()
            painter.drawLine(round(x), round(bar.bottom()), round(x), round(bar.bottom()) + TICK)
            place = QRectF(x - 40, bar.bottom() + TICK + 2, 80, line)
            painter.drawText(place, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        title = QRectF(0, bar.bottom() + TICK + 2 + line + 4, self.width(), line)
        painter.drawText(title, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.label)
        painter.end()
