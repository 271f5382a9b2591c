"""A colour bar in plain Qt: a colour map drawn over its levels, round values ticked and written
beside it, and what the colours measure beside those. Horizontal under the filters' mosaic and a
large map, vertical at the right of the feature maps, its title turned to read upwards; drawn
without pyqtgraph (gui.image_canvas says why)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
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
    """`colormap` over `levels` (set_levels), titled `label` (set_label); low to high from left
    to right, or from bottom to top when `vertical`."""

    def __init__(self, colormap: str, label: str, parent: QWidget | None = None, vertical: bool = False):
        super().__init__(parent)
        self.label = label
        self.vertical = vertical
        self._levels = (0.0, 1.0)
        ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)
        colours = theme.to_rgba(ramp[::-1, None] if vertical else ramp[None, :], (0.0, 1.0), colormap)
        width, height = colours.shape[1], colours.shape[0]
        self._gradient = QImage(colours.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
        if vertical:
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        else:
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._pixmap = QPixmap()
        self._drawn: tuple | None = None  # what the pixmap was drawn for

    def levels(self) -> tuple[float, float]:
        return self._levels

    def set_levels(self, levels: tuple[float, float]) -> None:
        self._levels = (float(levels[0]), float(levels[1]))
        if self.vertical and self.sizeHint().width() != self.width():  # its width follows its labels'
            self.updateGeometry()
        self.update()

    def set_label(self, label: str) -> None:
        self.label = label
        self.update()

    def _margin(self) -> int:
        """Room at each end for half of an end label."""
        metrics = self.fontMetrics()
        if self.vertical:
            return metrics.height() // 2 + 2
        low, high = self._levels
        return max(metrics.horizontalAdvance(f"{v:g}") for v in (low, high, -8.8)) // 2 + 4

    def _labels_width(self) -> int:
        """The widest tick label a vertical bar writes now, or might for most levels."""
        metrics = self.fontMetrics()
        return max(metrics.horizontalAdvance(text) for text in ["-0.00", *(t for _, t in self.shown_ticks())])

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().height()
        if self.vertical:
            return QSize(2 + BAR + TICK + 2 + self._labels_width() + 4 + line + 2, 160)
        return QSize(160, 2 + BAR + TICK + 2 + line + 4 + line + 4)

    def minimumSizeHint(self) -> QSize:
        if self.vertical:
            return QSize(self.sizeHint().width(), 80)
        return QSize(80, self.sizeHint().height())

    def bar_rect(self) -> QRectF:
        margin = self._margin()
        if self.vertical:
            return QRectF(2, margin, BAR, max(1, self.height() - 2 * margin))
        return QRectF(margin, 2, max(1, self.width() - 2 * margin), BAR)

    def label_rect(self) -> QRectF:
        """Where the title is written, in the widget's coordinates (turned, when vertical)."""
        line = self.fontMetrics().height()
        text = self.fontMetrics().horizontalAdvance(self.label)
        bar = self.bar_rect()
        if self.vertical:
            left = bar.right() + TICK + 2 + self._labels_width() + 4
            return QRectF(left, bar.center().y() - text / 2, line, text)
        top = bar.bottom() + TICK + 2 + line + 4
        return QRectF((self.width() - text) / 2, top, text, line)

    def shown_ticks(self) -> list[tuple[float, str]]:
        """The ticks drawn at the bar's length now, with their text."""
        low, high = self._levels
        metrics = self.fontMetrics()
        if self.vertical:
            length, spacing = self.bar_rect().height(), metrics.height() * 2
        else:
            length = self.bar_rect().width()
            spacing = metrics.horizontalAdvance("-0.00") + metrics.averageCharWidth() * 3 // 2
        values = ticks(low, high, int(length // spacing) + 1)
        step = values[1] - values[0] if len(values) > 1 else abs(high - low)
        return [(v, tick_text(v, step)) for v in values]

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draws the bar kept as a pixmap, drawn again only when its size, scale or levels change:
        its text costs more than the repaints under each training update."""
        ratio = self.devicePixelRatioF()
        key = (self.size(), ratio, self._levels, self.label)
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
        title = self.label_rect()
        for value, text in self.shown_ticks():
            if self.vertical:
                y = bar.bottom() - (value - low) / (high - low) * bar.height()
                painter.drawLine(round(bar.right()), round(y), round(bar.right()) + TICK, round(y))
                place = QRectF(bar.right() + TICK + 2, y - line / 2, title.left() - bar.right(), line)
                painter.drawText(place, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            else:
                x = bar.left() + (value - low) / (high - low) * bar.width()
                painter.drawLine(round(x), round(bar.bottom()), round(x), round(bar.bottom()) + TICK)
                place = QRectF(x - 40, bar.bottom() + TICK + 2, 80, line)
                painter.drawText(place, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        if self.vertical:  # read upwards: turned a quarter anticlockwise about the title's centre
            painter.translate(title.center())
            painter.rotate(-90)
            painter.translate(-QPointF(title.height(), title.width()) / 2)
            title = QRectF(0, 0, title.height(), title.width())
        painter.drawText(title, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, self.label)
        painter.end()
