"""One feature map shown large, drawn with its layer's colour levels over a colour bar that
gives them; hovering a pixel reads its value. It follows the maps while the network trains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui import theme
from gui.backdrop import Backdrop
from gui.color_bar import ColorBar
from gui.detail_dialog import DetailDialog
from gui.image_canvas import ImageCanvas
from gui.naming import named

HOVER_HINT = "Hover the map to read its values"


def value_text(value: float) -> str:
    return f"{value:.4g}"


class MapDetail(DetailDialog):
    """Which map it shows is `shown` (panel, channel) of the feature-map view."""

    def __init__(self, refresh: Callable[[], None], parent: QWidget | None = None):
        super().__init__(refresh, parent)
        named(self, "mapDetail", accessible="One feature map")
        self.values = np.zeros((1, 1), dtype=np.float32)
        self._hovered: tuple[int, int] | None = None
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        font = QFont(self.title.font())
        font.setPointSizeF(10)
        self.title.setFont(font)
        self.canvas = named(ImageCanvas(), "mapDetailCanvas")
        self.color_bar = named(ColorBar(theme.MAP_COLORMAP, "activation"), "mapDetailColorBar")
        self.canvas.hovered.connect(self._hover)
        graphics = Backdrop()
        drawing = QVBoxLayout(graphics)
        drawing.setContentsMargins(4, 4, 4, 4)
        drawing.addWidget(self.title)
        drawing.addWidget(self.canvas, 1)
        drawing.addWidget(self.color_bar)
        self.hover_label = named(QLabel(HOVER_HINT), "mapDetailHoverLabel")
        layout = QVBoxLayout(self)
        layout.addWidget(graphics, 1)
        layout.addWidget(self.hover_label)
        self.resize(520, 480)

    def show_map(self, title: str, values: np.ndarray, levels: tuple[float, float]) -> None:
        """`values` (H, W), drawn with `levels` as the mosaic draws its layer."""
        if title != self.windowTitle():
            self.setWindowTitle(title)
            self.title.setText(title)
        self.values = values
        self.canvas.show_image(values, levels, theme.MAP_COLORMAP)
        if self.color_bar.levels() != tuple(levels):
            self.color_bar.set_levels(levels)
        self._describe()

    def _hover(self, point: QPointF) -> None:
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        if 0 <= row < self.values.shape[0] and 0 <= col < self.values.shape[1]:
            self._hovered = (row, col)
            self._describe()

    def _describe(self) -> None:
        """The hovered pixel's value now (described again with every new map)."""
        if self._hovered is None or not (
            self._hovered[0] < self.values.shape[0] and self._hovered[1] < self.values.shape[1]
        ):
            self._hovered = None
            self.hover_label.setText(HOVER_HINT)
            return
        row, col = self._hovered
        self.hover_label.setText(f"row {row}, column {col}: {value_text(self.values[row, col])}")
