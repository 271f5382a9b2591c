"""One feature map shown large, drawn with its layer's colour levels beside a colour bar that
gives them; hovering a pixel reads its value. It follows the maps while the network trains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui import theme
from gui.canvas import GraphicsLayoutWidget, ImagePanel
from gui.detail_dialog import DetailDialog
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
        self.graphics = GraphicsLayoutWidget()
        self.plot = ImagePanel("")
        self.image = self.plot.image
        self.image.setColorMap(theme.MAP_COLORMAP)
        self.graphics.addItem(self.plot)
        self.color_bar = pg.ColorBarItem(
            colorMap=theme.MAP_COLORMAP, interactive=False, width=14, label="activation", colorMapMenu=False
        )
        self.color_bar.setImageItem(self.image)
        self.graphics.addItem(self.color_bar)
        self.color_bar.axis.enableAutoSIPrefix(False)
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.hover_label = named(QLabel(HOVER_HINT), "mapDetailHoverLabel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover_label)
        self.resize(520, 480)

    def show_map(self, title: str, values: np.ndarray, levels: tuple[float, float]) -> None:
        """`values` (H, W), drawn with `levels` as the mosaic draws its layer."""
        if title != self.windowTitle():  # a new title lays the plot out again
            self.setWindowTitle(title)
            self.plot.title.setText(title, size="10pt")
        self.values = values
        self.image.setImage(values, autoLevels=False)
        if self.color_bar.levels() != tuple(levels):
            self.color_bar.setLevels(levels)
        self._describe()

    def _hover(self, pos: QPointF) -> None:
        point = self.image.mapFromScene(pos)
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
