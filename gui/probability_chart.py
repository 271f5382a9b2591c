"""The predicted class probabilities as bars, in plain Qt: the predicted class coloured right or
wrong, the true class outlined and marked, under a title that names both.

Class names are written under their bars as many as fit without touching (every 1st, 2nd, 5th,
10th, … class); where the classes are too many for bars a few pixels wide (a data set may have
10,000), the most probable `TOP` are shown, largest first, with the true class after them when
it is not among them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QStaticText,
    QTextOption,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui import theme
from gui.color_bar import TICK
from gui.plain_text import escaped

#: Bars narrower than this many pixels give way to the most probable classes alone.
LEAST_PITCH = 4.0
#: How many of the most probable classes are shown then.
TOP = 10
#: A bar's width, as a share of the room each class has.
BAR_SHARE = 0.7
#: The probabilities' grid lines.
GRID = (0.2, 0.4, 0.6, 0.8)
#: Pixels between two class names written under the bars.
LABEL_GAP = 6


def label_step(pitch: float, widest: float) -> int:
    """Every how many bars a name is written: 1, 2 or 5 × 10^k, the least that keeps names of
    `widest` pixels `LABEL_GAP` apart with bars `pitch` pixels apart."""
    if pitch <= 0:
        return 1
    for power in range(12):
        for step in (1, 2, 5):
            if step * 10**power * pitch >= widest + LABEL_GAP:
                return step * 10**power
    return 10**12


class ProbabilityChart(QWidget):
    """`set_probabilities(probs, true, names)`; `hovered` gives the class under the mouse, the
    names thinned out or not."""

    hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 90)
        self.probs = np.zeros(0, dtype=np.float32)
        self.true: int | None = None
        self.names: tuple[str, ...] = ()
        self.title = ""  # rich text, the names escaped
        self._title = QStaticText()
        self._title.setTextFormat(Qt.TextFormat.RichText)
        self._title.setTextOption(QTextOption(Qt.AlignmentFlag.AlignHCenter))
        self._widths: dict[str, int] = {}  # the names' widths, measured once per font
        self._font_key: str | None = None
        self._frame = QPixmap()  # the axes, grid and names
        self._drawn: tuple | None = None  # what the frame was drawn for
        self._drawn_names: tuple[str, ...] | None = None

    def sizeHint(self) -> QSize:
        return QSize(240, 180)

    def set_probabilities(self, probs: np.ndarray, true: int | None, names: tuple[str, ...]) -> None:
        """Bars for `probs`, the `true` class marked (None: the user's own input, which has
        none), each class named by `names`."""
        self.probs, self.true, self.names = probs, true, names
        predicted = int(np.argmax(probs))
        truth = f"true <b>{escaped(names[true])}</b>" if true is not None else "<b>your own input</b>"
        title = f"predicted <b>{escaped(names[predicted])}</b> ({100 * probs[predicted]:.0f}%), {truth}"
        if title != self.title:
            self.title = title
            self._title.setText(title)
        self.update()

    # -- geometry, in the widget's coordinates ---------------------------------------------------

    def _title_height(self) -> float:
        return self.fontMetrics().height() + 6

    def plot_rect(self) -> QRectF:
        """Where the bars stand: probability 0 at the bottom edge, 1 at the top."""
        metrics = self.fontMetrics()
        left = metrics.horizontalAdvance("0.8") + TICK + 6
        top = self._title_height() + metrics.height() // 2
        bottom = self.height() - metrics.height() - TICK - 4
        return QRectF(left, top, max(1.0, self.width() - left - 6), max(1.0, bottom - top))

    @property
    def classes(self) -> list[int]:
        """The classes drawn, left to right, at the chart's width now."""
        count = len(self.probs)
        if count * LEAST_PITCH <= self.plot_rect().width():
            return list(range(count))
        top = np.argsort(-self.probs, kind="stable")[:TOP].tolist()
        if self.true is not None and self.true not in top:
            top.append(self.true)
        return top

    def _widths_of(self, names: list[str]) -> list[int]:
        """The names' widths in pixels, each measured once per font."""
        key = self.font().key()
        if key != self._font_key:
            self._font_key, self._widths = key, {}
        widths, metrics = self._widths, self.fontMetrics()
        return [widths.get(n) or widths.setdefault(n, metrics.horizontalAdvance(n)) for n in names]

    def bar_rects(self) -> list[QRectF]:
        """Each drawn class's bar, in `classes`' order."""
        plot = self.plot_rect()
        classes = self.classes
        pitch = plot.width() / max(1, len(classes))
        height = plot.height() / 1.02  # 0 to 1, and a little room above
        return [
            QRectF(
                plot.left() + (n + (1 - BAR_SHARE) / 2) * pitch,
                plot.bottom() - float(self.probs[c]) * height,
                BAR_SHARE * pitch,
                float(self.probs[c]) * height,
            )
            for n, c in enumerate(classes)
        ]

    def label_rects(self) -> list[tuple[QRectF, str]]:
        """The class names written under the bars, where."""
        plot = self.plot_rect()
        classes = self.classes
        if not classes:
            return []
        pitch = plot.width() / len(classes)
        names = [self.names[c] for c in classes]
        widths = self._widths_of(names)
        step = label_step(pitch, max(widths))
        line = self.fontMetrics().height()
        shown = []
        for n in range(0, len(classes), step):
            width = widths[n]
            centre = plot.left() + (n + 0.5) * pitch
            left = min(max(centre - width / 2, 0.0), self.width() - width)
            shown.append((QRectF(left, plot.bottom() + TICK + 2, width, line), names[n]))
        return shown

    def true_label_rect(self) -> QRectF:
        """Where "true" is written: over the true class's bar, or beside it where the bar
        reaches the top of the plot (it would run into the title)."""
        plot = self.plot_rect()
        rect = self.bar_rects()[self.classes.index(self.true)]
        line = self.fontMetrics().height()
        width = self.fontMetrics().horizontalAdvance("true")
        bottom = rect.top() - 0.12 * plot.height() / 1.02
        if bottom - line >= plot.top():
            left = rect.center().x() - width / 2
        else:  # beside the bar, at the plot's top: on the right where there is room
            bottom = plot.top() + line
            left = rect.right() + 3 if rect.right() + 3 + width <= plot.right() else rect.left() - 3 - width
        left = min(max(left, plot.left() + 2), self.width() - width)
        return QRectF(left, bottom - line, width, line)

    def class_at(self, x: float) -> int | None:
        """The class whose bar's room is at `x` across the widget, or None outside the plot."""
        plot, classes = self.plot_rect(), self.classes
        if not classes or not plot.left() <= x < plot.right():
            return None
        return classes[min(len(classes) - 1, int((x - plot.left()) / plot.width() * len(classes)))]

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        found = self.class_at(event.position().x())
        if found is not None:
            self.hovered.emit(found)

    # -- drawing -----------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        """The axes, grid and names kept as a pixmap, drawn again only when the size, the classes
        drawn or their names change; the bars and the title over it with every snapshot."""
        if not len(self.probs):
            return
        classes = self.classes
        top_only = len(classes) < len(self.probs)
        ratio = self.devicePixelRatioF()
        key = (self.size(), ratio, self.font().key(), classes if top_only else len(classes))
        if key != self._drawn or self.names is not self._drawn_names:
            self._drawn, self._drawn_names = key, self.names
            self._frame = QPixmap(self.size() * ratio)
            self._frame.setDevicePixelRatio(ratio)
            self._frame.fill(Qt.GlobalColor.transparent)
            self._draw_frame(QPainter(self._frame), top_only)
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._frame)
        ink = QColor(theme.FOREGROUND)
        if self._title.textWidth() != self.width():  # centred in the widget, wrapped if need be
            self._title.setTextWidth(self.width())
        painter.setPen(ink)
        painter.drawStaticText(QPointF(0, 3), self._title)
        rects = self.bar_rects()
        predicted = int(np.argmax(self.probs))
        for c, rect in zip(classes, rects, strict=True):
            colour = theme.NEUTRAL
            if self.true is not None and c == predicted:
                colour = theme.CORRECT if predicted == self.true else theme.WRONG
            painter.fillRect(rect, QColor(colour))
        if self.true is not None and self.true in classes:
            rect = rects[classes.index(self.true)]
            painter.setPen(QPen(ink, 2))
            painter.drawRect(rect)
            painter.drawText(self.true_label_rect(), Qt.AlignmentFlag.AlignBottom, "true")
        painter.end()

    def _draw_frame(self, painter: QPainter, top_only: bool) -> None:
        painter.setFont(self.font())
        ink = QColor(theme.FOREGROUND)
        plot = self.plot_rect()
        height = plot.height() / 1.02
        faint = QColor(ink)
        faint.setAlphaF(0.15)
        for level in GRID:
            y = plot.bottom() - level * height
            painter.setPen(faint)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(ink)
            painter.drawLine(QPointF(plot.left() - TICK, y), QPointF(plot.left(), y))
            place = QRectF(0, y - 20, plot.left() - TICK - 2, 40)
            painter.drawText(place, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{level:g}")
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        for place, name in self.label_rects():
            painter.drawText(place, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
        if top_only:
            small = QFont(self.font())
            small.setPointSizeF(small.pointSizeF() * 0.9)
            painter.setFont(small)
            note = f"the {TOP} most probable of {len(self.probs):,} classes"
            corner = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
            painter.drawText(plot.adjusted(0, 2, -2, 0), corner, note)
        painter.end()
