"""The learned filters of one conv layer as a single mosaic image.

Each tile is one filter's kernel for one input channel (or one colour tile for an RGB filter),
drawn with a diverging colour map whose levels are symmetric around zero, so the sign of a weight
reads the same in every tile and every update; the levels are rounded up to a round number, so
the colour bar keeps its labels across most updates."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.spec import LayerInfo
from engine.wording import plural
from gui import theme
from gui.canvas import GraphicsLayoutWidget, ImagePanel
from gui.mosaic import Mosaic, filter_mosaic, nice_limit
from gui.naming import named

HOVER_HINT = "Hover a tile to see which filter it is"


class FiltersView(QWidget):
    """Layer selector, kernel mosaic and colour bar; hovering a tile names it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "filterView", accessible="Learned filters")
        self._kernels: dict[int, np.ndarray] = {}
        self._rgb_input = False
        self.mosaic: Mosaic | None = None
        self._channels = 1
        self._hovered: int | None = None  # the tile under the mouse, described again on each draw

        self.layer_combo = named(
            QComboBox(), "filterLayerCombo", "Which conv layer's filters to show", "Filter layer"
        )
        self.layer_combo.currentIndexChanged.connect(lambda _: self._draw())
        self.hover_label = named(QLabel(HOVER_HINT), "filterHoverLabel")

        self.graphics = GraphicsLayoutWidget()
        self.graphics.setToolTip("Each tile is one filter's kernel for one input channel")
        self.plot = ImagePanel()
        self.image = self.plot.image
        self.graphics.addItem(self.plot)
        self.color_bar = pg.ColorBarItem(
            colorMap=theme.FILTER_COLORMAP, interactive=False, width=14, label="weight", colorMapMenu=False
        )
        self.color_bar.setImageItem(self.image)
        self.graphics.addItem(self.color_bar)
        theme.cache(self.color_bar.axis)
        self.plot.scene().sigMouseMoved.connect(self._hover)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover_label)

    def set_layers(self, infos: list[LayerInfo], input_channels: int) -> None:
        """List the conv layers of a (new) network; the selection stays when the layer does."""
        self._rgb_input = input_channels == 3
        current = self.layer_combo.currentData()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for info in infos:
            if info.type == "conv":
                c = info.input_shape[0]
                kh, kw = info.layer["kernel"]
                self.layer_combo.addItem(
                    f"layer {info.index} · {plural(info.layer['filters'], 'filter')} × "
                    f"{plural(c, 'channel')}, {kh}×{kw}",
                    info.index,
                )
        self.layer_combo.setCurrentIndex(max(0, self.layer_combo.findData(current)))
        self.layer_combo.blockSignals(False)

    def show_kernels(self, kernels: dict[int, np.ndarray]) -> None:
        self._kernels = kernels
        self._draw()

    def _draw(self) -> None:
        weight = self._kernels.get(self.layer_combo.currentData())
        if weight is None:
            self.image.clear()
            self.mosaic = None
            self._describe()
            return
        rgb = self._rgb_input and self.layer_combo.currentIndex() == 0
        self.mosaic, self._channels = filter_mosaic(weight, rgb)
        limit = nice_limit(float(np.abs(weight).max()))
        self.image.setImage(self.mosaic.image, autoLevels=False)
        if self.color_bar.levels() != (-limit, limit):  # setting them, even unchanged, redraws the axis
            self.color_bar.setLevels((-limit, limit))
        self.color_bar.setVisible(self.mosaic.image.ndim == 2)
        if self.mosaic.image.ndim == 3:
            self.image.setLookupTable(None)
            self.image.setLevels((-limit, limit))
        elif self.image.lut is None:  # grey filters after colour ones: the colour bar's map again
            self.color_bar.setColorMap(theme.FILTER_COLORMAP)
        self._describe()

    def _hover(self, pos: QPointF) -> None:
        if self.mosaic is None or not self.plot.sceneBoundingRect().contains(pos):
            return
        point = self.image.mapFromScene(pos)
        index = self.mosaic.tile_at(point.x(), point.y())
        if index is None:
            return
        self._hovered = index
        self._describe()

    def _describe(self) -> None:
        """Say which tile the mouse is over and its weights now: redrawn with every new set of
        weights, so the text never describes weights that are gone."""
        index = self._hovered
        if self.mosaic is None or index is None or index >= self.mosaic.count:
            self._hovered = None
            text = HOVER_HINT
        else:
            f, c = divmod(index, self._channels)
            tile = self.mosaic.tile(index)
            where = f"filter {f}" if self._channels == 1 else f"filter {f}, input channel {c}"
            text = f"{where}: weights from {np.nanmin(tile):+.3f} to {np.nanmax(tile):+.3f}"
        if text != self.hover_label.text():
            self.hover_label.setText(text)
            self.graphics.setToolTip(text)
