"""The learned filters of one conv layer as a single mosaic image, laid out to fill the view.

Each tile is one filter's kernel for one input channel (or one colour tile for an RGB filter);
a filter with several input channels is one cell, its channels side by side. Tiles are drawn
with a diverging colour map whose levels are symmetric around zero, so the sign of a weight
reads the same in every tile and every update; the levels are rounded up to a round number, so
the colour bar keeps its labels across most updates. The wheel zooms, a click shows one filter
large with its numbers. Plain Qt widgets draw it (gui.image_canvas, gui.color_bar): the window's
first paint draws the filters without pyqtgraph."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from engine.spec import LayerInfo
from engine.wording import plural
from gui import theme
from gui.backdrop import Backdrop
from gui.color_bar import ColorBar
from gui.filter_detail import FilterDetail
from gui.image_canvas import ImageCanvas
from gui.mosaic import Mosaic, filter_cell, filter_mosaic, grid_columns, nice_limit
from gui.naming import named

HOVER_HINT = "Hover a tile to see which filter it is; click it to see its numbers"


class FiltersView(QWidget):
    """Layer selector, kernel mosaic and colour bar; hovering a tile names it, clicking it opens
    the filter in `detail`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "filterView", accessible="Learned filters")
        self._kernels: dict[int, np.ndarray] = {}
        self._biases: dict[int, np.ndarray] = {}
        self._layers: dict[int, str] = {}  # each conv layer's description
        self._rgb_input = False
        self.mosaic: Mosaic | None = None
        self._channels = 1
        self._hovered: int | None = None  # the tile under the mouse, described again on each draw
        self._layout_key: tuple = ()  # what the mosaic's columns were chosen for
        self._cols = 1
        self.detail: FilterDetail | None = None

        self.layer_combo = named(
            QComboBox(), "filterLayerCombo", "Which conv layer's filters to show", "Filter layer"
        )
        self.layer_combo.currentIndexChanged.connect(lambda _: self._draw())
        self.layer_label = named(QLabel(), "filterLayerLabel")
        self.layer_label.setWordWrap(True)  # the whole description at any width and scale
        self.fit_button = named(
            QToolButton(), "filterFitButton", "Fit the mosaic to the view (the wheel zooms)"
        )
        self.fit_button.setText("Fit")
        self.fit_button.clicked.connect(lambda: self.canvas.fit())
        self.hover_label = named(QLabel(HOVER_HINT), "filterHoverLabel")
        self.hover_label.setWordWrap(True)

        self.canvas = named(ImageCanvas(), "filterMosaic")  # the wheel zooms, a drag pans
        self.canvas.setToolTip("Each tile is one filter's kernel for one input channel")
        # under the mosaic: the view is usually taller than wide
        self.color_bar = named(ColorBar(theme.FILTER_COLORMAP, "weight"), "filterColorBar")
        self.canvas.hovered.connect(self._hover)
        self.canvas.clicked.connect(self._clicked)
        self.canvas.resized.connect(self._draw)
        self.graphics = Backdrop()  # the mosaic and its colour bar on the plots' background
        drawing = QVBoxLayout(self.graphics)
        drawing.setContentsMargins(4, 4, 4, 4)
        drawing.setSpacing(4)
        drawing.addWidget(self.canvas, 1)
        drawing.addWidget(self.color_bar)

        top = QHBoxLayout()
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_combo, 1)
        top.addWidget(self.fit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.layer_label)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover_label)

    def set_layers(self, infos: list[LayerInfo], input_channels: int) -> None:
        """List the conv layers of a (new) network; the selection stays when the layer does."""
        self._rgb_input = input_channels == 3
        current = self.layer_combo.currentData()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self._layers = {}
        for info in infos:
            if info.type == "conv":
                kh, kw = info.layer["kernel"]
                self._layers[info.index] = (
                    f"{plural(info.layer['filters'], 'filter')} × "
                    f"{plural(info.input_shape[0], 'input channel')}, {kh}×{kw}"
                )
                self.layer_combo.addItem(f"layer {info.index}", info.index)
                self.layer_combo.setItemData(
                    self.layer_combo.count() - 1, self._layers[info.index], Qt.ItemDataRole.ToolTipRole
                )
        self.layer_combo.setCurrentIndex(max(0, self.layer_combo.findData(current)))
        self.layer_combo.blockSignals(False)

    def show_kernels(
        self, kernels: dict[int, np.ndarray], biases: dict[int, np.ndarray] | None = None
    ) -> None:
        """Draw new weights (`biases`: each layer's, where known)."""
        self._kernels, self._biases = kernels, biases or {}
        self._draw()
        self._update_detail()

    def _columns(self, shape: tuple[int, ...], rgb: bool) -> int:
        """The columns that make the tiles largest in the view now; chosen again only when the
        weights' shape or the view's size changes."""
        width, height = max(1.0, self.canvas.width()), max(1.0, self.canvas.height())
        key = (shape, rgb, round(width), round(height))
        if key != self._layout_key:
            self._layout_key = key
            cells, cell_height, cell_width = filter_cell(shape, rgb)
            self._cols = grid_columns(cells, width, height, (cell_height, cell_width))
        return self._cols

    def _draw(self) -> None:
        layer = self.layer_combo.currentData()
        weight = self._kernels.get(layer)
        self.layer_label.setText(self._layers.get(layer, ""))
        if weight is None:
            self.canvas.clear()
            self.mosaic = None
            self._describe()
            return
        rgb = self._rgb_input and self.layer_combo.currentIndex() == 0
        old = None if self.mosaic is None else self.mosaic.image.shape
        self.mosaic, self._channels = filter_mosaic(weight, rgb, self._columns(weight.shape, rgb))
        if self.mosaic.image.shape != old:  # a new layout: fit it, whatever the wheel did before
            self.canvas.fit()
        limit = nice_limit(float(np.abs(weight).max()))
        grey = self.mosaic.image.ndim == 2  # else RGB filters, drawn in their own colours
        self.canvas.show_image(self.mosaic.image, (-limit, limit), theme.FILTER_COLORMAP if grey else None)
        if self.color_bar.levels() != (-limit, limit):
            self.color_bar.set_levels((-limit, limit))
        self.color_bar.setVisible(grey)
        self._describe()

    def _hover(self, point: QPointF) -> None:
        if self.mosaic is None:
            return
        index = self.mosaic.tile_at(point.x(), point.y())
        if index is None:
            return
        self._hovered = index
        self._describe()

    def _clicked(self, point: QPointF) -> None:
        if self.mosaic is None:
            return
        index = self.mosaic.tile_at(point.x(), point.y())
        if index is not None:
            self.open_filter(self.layer_combo.currentData(), index // self._channels)

    def open_filter(self, layer: int, index: int) -> None:
        """Show filter `index` of conv layer `layer` large, with its numbers."""
        if self.detail is None:
            self.detail = FilterDetail(self._update_detail, self)
        self.detail.open_part((layer, index))

    def _update_detail(self) -> None:
        """The open filter's new weights; it closes when its layer or filter is gone."""
        if self.detail is None or self.detail.shown is None:
            return
        layer, index = self.detail.shown
        weight = self._kernels.get(layer)
        if weight is None or index >= len(weight):
            self.detail.forget()
            return
        bias = self._biases.get(layer)
        rgb = self._rgb_input and layer == next(iter(self._layers), None) and weight.shape[1] == 3
        channels = ["red", "green", "blue"] if rgb else [f"input channel {c}" for c in range(weight.shape[1])]
        self.detail.show_filter(
            layer,
            index,
            weight[index],
            None if bias is None else float(bias[index]),
            nice_limit(float(np.abs(weight).max())),
            channels,
        )

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
            self.canvas.setToolTip(text)
