"""One filter shown large: its weights per input channel as numbers, and its bias. It follows
the weights while they train (the filter view hands it each new set)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QStyle, QVBoxLayout, QWidget

from engine.wording import plural
from gui import theme
from gui.detail_dialog import DetailDialog
from gui.naming import named
from gui.number_table import NumberTable


class FilterDetail(DetailDialog):
    """Which filter of which layer it shows is `shown` (layer, filter)."""

    def __init__(self, refresh: Callable[[], None], parent: QWidget | None = None):
        super().__init__(refresh, parent)
        named(self, "filterDetail", accessible="One filter's weights")
        self.summary = named(QLabel(), "filterDetailSummary")
        self.summary.setWordWrap(True)
        self.tables: list[NumberTable] = []
        self.captions: list[QLabel] = []
        self._grid = QGridLayout()
        self._tables = QWidget()
        self._tables.setLayout(self._grid)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setWidget(self._tables)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self._scroll, 1)

    def show_filter(
        self,
        layer: int,
        index: int,
        weight: np.ndarray,
        bias: float | None,
        limit: float,
        channels: list[str],
    ) -> None:
        """`weight` (C, kh, kw) of filter `index` in conv layer `layer`, coloured over ±`limit`
        as the mosaic is; `channels` names each input channel."""
        self.setWindowTitle(f"Layer {layer} · filter {index}")
        kh, kw = weight.shape[1:]
        bias_text = "" if bias is None else f"bias {bias:+.4f} · "
        self.summary.setText(
            f"<b>Layer {layer}, filter {index}</b>: {bias_text}{plural(len(weight), 'input channel')} "
            f"of {kh}×{kw} weights, from {weight.min():+.3f} to {weight.max():+.3f}; coloured over "
            f"±{limit:g} like the mosaic."
        )
        built = len(self.tables) != len(weight) or self.tables[0].rowCount() != kh
        if len(self.tables) != len(weight):
            self._build(len(weight))
        for caption, name in zip(self.captions, channels, strict=True):
            caption.setText(name)
        for table, kernel in zip(self.tables, weight, strict=True):
            table.set_values(kernel, (-limit, limit))
        if built:
            self._fit()

    def _build(self, count: int) -> None:
        for widget in (*self.tables, *self.captions):
            self._grid.removeWidget(widget)
            widget.deleteLater()
        columns = math.ceil(math.sqrt(count))
        self.captions = [QLabel() for _ in range(count)]
        self.tables = [named(NumberTable(theme.FILTER_COLORMAP), f"channelTable{c}") for c in range(count)]
        for c, (caption, table) in enumerate(zip(self.captions, self.tables, strict=True)):
            row, col = divmod(c, columns)
            self._grid.addWidget(caption, 2 * row, col)
            self._grid.addWidget(table, 2 * row + 1, col)
        self._grid.setRowStretch(2 * math.ceil(count / columns), 1)

    def _fit(self) -> None:
        """As large as the tables, within most of the screen (beyond, the tables scroll)."""
        self._tables.adjustSize()
        frame = 2 * self._scroll.frameWidth() + self.style().pixelMetric(
            QStyle.PixelMetric.PM_ScrollBarExtent
        )
        want = self._tables.sizeHint() + QSize(frame, frame + self.summary.sizeHint().height())
        margins = self.layout().contentsMargins()
        want += QSize(margins.left() + margins.right(), margins.top() + margins.bottom() + 8)
        screen = (self.screen() or self.parentWidget().screen()).availableGeometry().size() * 0.8
        self.resize(want.boundedTo(screen).expandedTo(QSize(320, 200)))
