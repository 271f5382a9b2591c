"""One test image travelling through the network: the input, every layer's feature maps as a
mosaic, and the predicted class probabilities with the true label marked.

The view only draws; which image to show (and the misclassified list) comes from the window,
which gets the maps from the worker while training and from the idle network otherwise. Each
layer's maps are drawn over round levels of their own (mosaic.nice_levels); the colour bar gives
the levels of the layer last hovered, the hover line the channel and value under the mouse, and
a click opens one map large.

The panels are pyqtgraph items, made by `build_drawing` just after the window's first show (the
window's first paint needs no pyqtgraph: tests/gui/test_startup_imports.py); what the view is
asked to show before then is drawn then."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QVBoxLayout, QWidget

from engine.spec import LayerInfo, shape_text
from gui import theme
from gui.backdrop import Backdrop
from gui.map_detail import MapDetail, value_text
from gui.mosaic import Mosaic, grid_columns, map_mosaic, nice_levels
from gui.naming import named
from gui.plain_text import escaped

if TYPE_CHECKING:
    import pyqtgraph as pg

    from gui.canvas import GraphicsLayoutWidget, ImagePanel

HOVER_HINT = "Hover a map to read its channel and values; click it to see it large"
#: What the colour bar beside the panels takes of the view's width, in pixels.
BAR_WIDTH = 80
#: A panel's height to its width: a square image under a line of title.
PANEL = (1.15, 1.0)


class FeatureMapsView(QWidget):
    """Sample picker on top, one panel per layer below."""

    sampleChanged = Signal(int)
    misclassifiedToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "featureMapView", accessible="Feature maps")
        self._images: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._class_names: tuple[str, ...] = ()
        self._misclassified: np.ndarray | None = None
        self.map_images: list[pg.ImageItem] = []
        self.panels: list[ImagePanel | pg.PlotItem] = []
        self.columns = 0
        self.shown_maps: list[np.ndarray] = []
        self.mosaics: list[Mosaic] = []  # each layer's, as drawn
        self.levels: list[tuple[float, float]] = []  # each layer's colour levels
        self._infos: list[LayerInfo] = []  # the layers whose maps the panels after the input show
        self._input: np.ndarray | None = None  # the input shown (C, H, W)
        self._hovered: tuple[int, float, float] | None = None  # panel, image x, y; described on each draw
        self._bar_panel = 1  # the panel whose levels the colour bar gives
        self.detail: MapDetail | None = None
        self._titles: list[str] = []
        self._ticks: list[tuple[int, str]] = []
        self._title = ""  # the probability panel's
        self._input_index: int | None = None  # the image the input panel shows
        #: Whether the maps are the user's own input's (Explain > Draw) rather than a test image's.
        self.showing_own = False
        #: The pyqtgraph drawing, made by build_drawing; until then a backdrop keeps its place.
        self.graphics: GraphicsLayoutWidget | None = None
        self._space = Backdrop()
        self._layers_waiting: list[LayerInfo] | None = None  # the layers and maps to draw then
        self._waiting: tuple[int, list[np.ndarray], np.ndarray | None] | None = None

        self.index_spin = named(
            QSpinBox(), "sampleIndexSpin", "Which test image to show (numbered from 1)", "Test image number"
        )
        self.index_spin.valueChanged.connect(lambda number: self.sampleChanged.emit(number - 1))
        self.prev_button = self._button(
            "◀", "previousSampleButton", "Previous image (misclassified only when ticked)"
        )
        self.next_button = self._button(
            "▶", "nextSampleButton", "Next image (misclassified only when ticked)"
        )
        self.random_button = self._button("Random", "randomSampleButton", "Pick a random test image")
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.random_button.clicked.connect(self.pick_random)
        self.misclassified_check = named(
            QCheckBox("Misclassified only"),
            "misclassifiedCheck",
            "Step and pick only among test images the network gets wrong",
        )
        self.misclassified_check.toggled.connect(self.misclassifiedToggled)
        self.status_label = named(QLabel(), "sampleStatusLabel")
        self.hover_label = named(QLabel(HOVER_HINT), "mapHoverLabel")
        self.hover_label.setWordWrap(True)

        picker = QHBoxLayout()
        picker.addWidget(QLabel("Test image"))
        for widget in (self.index_spin, self.prev_button, self.next_button, self.random_button):
            picker.addWidget(widget)
        picker.addWidget(self.misclassified_check)
        picker.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(picker)
        layout.addWidget(self._space, 1)
        layout.addWidget(self.hover_label)
        layout.addWidget(self.status_label)

    def build_drawing(self) -> None:
        """Make the pyqtgraph panels in the backdrop's place, once, and draw the layers and maps
        shown meanwhile. The window calls it just after its first show."""
        if self.graphics is not None:
            return
        import pyqtgraph as pg

        from gui.canvas import GraphicsLayoutWidget

        # Made once: a live update restyles every bar.
        self._brushes = {
            "neutral": pg.mkBrush(theme.NEUTRAL),
            "correct": pg.mkBrush(theme.CORRECT),
            "wrong": pg.mkBrush(theme.WRONG),
        }
        self._pens = {"none": pg.mkPen(None), "true": pg.mkPen(theme.FOREGROUND, width=2)}
        self.graphics = named(GraphicsLayoutWidget(), "featureMapPanels")
        self.graphics.setToolTip("The input, each layer's feature maps, and the predicted probabilities")
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.graphics.ci.setSpacing(2)
        self.color_bar = pg.ColorBarItem(
            values=(0, 1), colorMap=theme.MAP_COLORMAP, interactive=False, width=10, colorMapMenu=False
        )
        self.color_bar.axis.enableAutoSIPrefix(False)
        self.color_bar.setContentsMargins(0, 8, 0, 8)  # room for the end labels' halves
        theme.cache(self.color_bar)  # the bar and its axis change only with the levels
        self.graphics.scene().sigMouseMoved.connect(self._hover)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.graphics.setGeometry(self._space.geometry())  # the panels' grid is chosen for it
        self.layout().replaceWidget(self._space, self.graphics)
        self._space.deleteLater()
        if self._layers_waiting is not None:
            self.set_layers(self._layers_waiting)
        if self._waiting is not None:
            self.show_maps(*self._waiting)
        self.graphics.show()
        self.graphics.ci.layout.activate()  # the panels in place now, as they are once painted

    @property
    def index(self) -> int:
        """The shown image's index in the test split; the spin box shows it numbered from 1."""
        return self.index_spin.value() - 1

    def show_index(self, index: int) -> None:
        self.index_spin.setValue(index + 1)

    def set_data(self, images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> None:
        self._images, self._labels, self._class_names = images, labels, class_names
        self._input_index = None
        self._misclassified = None
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(1, max(1, len(images)))
        self.index_spin.setSuffix(f" of {len(images):,}")
        self.index_spin.blockSignals(False)

    def set_layers(self, infos: list[LayerInfo]) -> None:
        """Build one panel per layer of a (new) network; the same layers keep their panels, since
        building them takes tens of milliseconds."""
        titles = ["input", *[f"{i.index} {i.type} {shape_text(i.output_shape)}" for i in infos[:-1]]]
        if titles == self._titles:
            return
        self._infos = infos[:-1]
        if self.graphics is None:  # drawn by build_drawing
            self._layers_waiting = infos
            return
        import pyqtgraph as pg

        from gui.canvas import ImagePanel
        from gui.plots import Bars

        self._titles = titles
        self.graphics.clear()
        self.shown_maps, self.mosaics, self.levels = [], [], []
        self._hovered, self._bar_panel = None, 1
        self.panels = [ImagePanel(title) for title in titles]
        self.map_images = [panel.image for panel in self.panels]
        self._ticks, self._title, self._input_index = [], "", None
        self.prob_plot = pg.PlotItem(enableMenu=False)
        self.prob_plot.setMouseEnabled(x=False, y=False)
        self.prob_plot.hideButtons()
        self.prob_plot.setYRange(0, 1, padding=0.02)
        self.prob_plot.showGrid(y=True, alpha=0.15)
        theme.cache(*(axis["item"] for axis in self.prob_plot.axes.values()))
        self.bars = Bars(self.prob_plot)
        self.true_marker = pg.TextItem("true", color=theme.FOREGROUND, anchor=(0.5, 1.0))
        self.prob_plot.addItem(self.true_marker)
        self.panels.append(self.prob_plot)
        self.columns = 0
        self._arrange()

    def _arrange(self) -> None:
        """Lay the panels out in the grid that makes them largest in the space there is now; the
        probabilities (last) take what is left of the bottom row."""
        size = self.graphics.size()
        columns = grid_columns(len(self.panels), max(1, size.width() - BAR_WIDTH), size.height(), PANEL)
        if columns == self.columns:
            return
        self.columns = columns
        self.graphics.clear()
        for n, panel in enumerate(self.panels):
            span = columns - n % columns if panel is self.prob_plot else 1
            self.graphics.addItem(panel, row=n // columns, col=n % columns, colspan=span)
        rows = math.ceil(len(self.panels) / columns)
        self.graphics.addItem(self.color_bar, row=0, col=columns, rowspan=rows)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.panels:
            self._arrange()

    def set_misclassified(self, predictions: np.ndarray | None) -> None:
        """Remember which test images the network gets wrong, from its predicted labels (None:
        not known for this network)."""
        self._misclassified = None if predictions is None else np.flatnonzero(predictions != self._labels)
        self._update_status()

    @property
    def misclassified(self) -> np.ndarray | None:
        return self._misclassified

    def step(self, direction: int) -> None:
        if self.misclassified_check.isChecked() and self._misclassified is not None:
            wrong = self._misclassified
            if len(wrong):
                at = np.searchsorted(wrong, self.index, side="right" if direction > 0 else "left")
                self.show_index(int(wrong[(at if direction > 0 else at - 1) % len(wrong)]))
            return
        self.show_index((self.index + direction) % self.index_spin.maximum())

    def pick_random(self) -> None:
        if (
            self.misclassified_check.isChecked()
            and self._misclassified is not None
            and len(self._misclassified)
        ):
            self.show_index(int(random.choice(self._misclassified)))
        else:
            self.show_index(random.randrange(self.index_spin.maximum()))

    def show_maps(self, index: int, maps: list[np.ndarray], own: np.ndarray | None = None) -> None:
        """Draw one input's feature maps (one array per layer, probabilities last): test image
        `index`, or the user's `own` image (C, H, W) when given."""
        if self.graphics is None:  # drawn by build_drawing
            self._waiting = (index, maps, own)
            return
        if self._images is None or index != self.index or len(maps) != len(self.map_images):
            return
        self.shown_maps = maps
        self.showing_own = own is not None
        if own is not None:
            self._input_index = None
            self._show_input(own)
        elif index != self._input_index:  # live updates keep the image: only its maps change
            self._input_index = index
            self._show_input(self._images[index])
        self.mosaics, self.levels = [], []
        for item, maps_of_layer in zip(self.map_images[1:], maps[:-1], strict=True):
            mosaic = map_mosaic(maps_of_layer)
            levels = nice_levels(float(np.nanmin(mosaic.image)), float(np.nanmax(mosaic.image)))
            # Coloured here, in NumPy: pyqtgraph colours float maps in Python at each repaint.
            item.setImage(theme.to_rgba(mosaic.image, levels, theme.MAP_COLORMAP), autoLevels=False)
            self.mosaics.append(mosaic)
            self.levels.append(levels)
        self._draw_probabilities(maps[-1], None if own is not None else int(self._labels[index]))
        self._update_status()
        self._show_bar()
        self._describe()
        self._update_detail()

    # -- reading the maps: the colour bar, hovering, one map large -----------------------------

    def _layer_name(self, panel: int) -> str:
        info = self._infos[panel - 1]
        return f"layer {info.index} {info.type}"

    def _show_bar(self) -> None:
        """The colour bar gives the levels of the layer last hovered (set only when they change:
        relabelling the axis is the dearest part of a repaint)."""
        if not self.levels:
            return
        panel = min(self._bar_panel, len(self.levels))
        if self.color_bar.levels() != self.levels[panel - 1]:
            self.color_bar.setLevels(self.levels[panel - 1])
        name = self._layer_name(panel)
        if self.color_bar.axis.labelText != name:
            self.color_bar.axis.setLabel(name)

    def _panel_at(self, pos: QPointF) -> tuple[int, QPointF] | None:
        """The map panel under scene position `pos` (0: the input) and the point in its image."""
        for n, panel in enumerate(self.panels[:-1]):
            if panel.sceneBoundingRect().contains(pos):
                return n, self.map_images[n].mapFromScene(pos)
        return None

    def _hover(self, pos: QPointF) -> None:
        found = self._panel_at(pos)
        if found is None or not self.shown_maps:
            return
        n, point = found
        self._hovered = (n, point.x(), point.y())
        if n and n != self._bar_panel:
            self._bar_panel = n
            self._show_bar()
        self._describe()

    def _describe(self) -> None:
        """Name the channel and the value under the mouse, read from the maps shown now."""
        text = HOVER_HINT if self._hovered is None else self._point_text(*self._hovered) or HOVER_HINT
        if text != self.hover_label.text():
            self.hover_label.setText(text)

    def _point_text(self, n: int, x: float, y: float) -> str | None:
        if n == 0:
            image = self._input
            if image is None:
                return None
            row, col = int(np.floor(y)), int(np.floor(x))
            if not (0 <= row < image.shape[1] and 0 <= col < image.shape[2]):
                return None
            values = ", ".join(value_text(v) for v in image[:, row, col])
            return f"input at row {row}, column {col}: {values}"
        if n > len(self.mosaics):
            return None
        found = self.mosaics[n - 1].locate(x, y)
        if found is None:
            return None
        index, row, col = found
        value = value_text(self.mosaics[n - 1].tile(index)[row, col])
        if self.shown_maps[n - 1].ndim == 1:
            return f"{self._layer_name(n)}, unit {index}: {value}"
        return f"{self._layer_name(n)}, channel {index} at row {row}, column {col}: {value}"

    def _clicked(self, event) -> None:
        found = self._panel_at(event.scenePos())
        if found is None or event.button() != Qt.MouseButton.LeftButton:
            return
        n, point = found
        if 0 < n <= len(self.mosaics):
            index = self.mosaics[n - 1].tile_at(point.x(), point.y())
            if index is not None:
                self.open_map(n, 0 if self.shown_maps[n - 1].ndim == 1 else index)

    def open_map(self, panel: int, channel: int) -> None:
        """Show channel `channel` of map panel `panel` (a dense layer: all its units) large."""
        if self.detail is None:
            self.detail = MapDetail(self._update_detail, self)
        self.detail.open_part((panel, channel))

    def _update_detail(self) -> None:
        """The open map's new values; it closes when its layer or channel is gone."""
        if self.detail is None or self.detail.shown is None:
            return
        panel, channel = self.detail.shown
        maps = self.shown_maps[panel - 1] if 0 < panel <= len(self.mosaics) else None
        if maps is None or (maps.ndim == 3 and channel >= len(maps)):
            self.detail.forget()
            return
        if maps.ndim == 1:
            title, values = f"{self._layer_name(panel)}: {len(maps)} units", self.mosaics[panel - 1].image
        else:
            title, values = f"{self._layer_name(panel)}, channel {channel}", maps[channel]
        image = "your own input" if self.showing_own else f"test image {self.index + 1}"
        self.detail.show_map(f"{title} ({image})", values, self.levels[panel - 1])

    def _show_input(self, image: np.ndarray) -> None:
        self._input = image
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        self.map_images[0].setImage(pixels, autoLevels=True)

    def _draw_probabilities(self, probs: np.ndarray, true: int | None) -> None:
        """The bars, the predicted one coloured right or wrong against the `true` label (None:
        the user's own input, which has none)."""
        predicted = int(np.argmax(probs))
        brushes = [self._brushes["neutral"]] * len(probs)
        pens = [self._pens["none"]] * len(probs)
        if true is not None:
            brushes[predicted] = self._brushes["correct" if predicted == true else "wrong"]
            pens[true] = self._pens["true"]
        self.bars.set_data(probs, brushes, pens)
        self.true_marker.setVisible(true is not None)
        if true is not None:
            self.true_marker.setPos(true, min(1.0, float(probs[true]) + 0.12))
        names = self._class_names or tuple(map(str, range(len(probs))))
        step = max(1, math.ceil(len(probs) / 12))
        ticks = [(i, names[i]) for i in range(0, len(probs), step)]
        if ticks != self._ticks:  # new ticks redraw the axis, the costliest part of this plot
            self._ticks = ticks
            self.prob_plot.getAxis("bottom").setTicks([ticks])
            self.prob_plot.setXRange(-0.6, len(probs) - 0.4, padding=0)
        shown, confidence = escaped(names[predicted]), 100 * probs[predicted]
        truth = f"true <b>{escaped(names[true])}</b>" if true is not None else "<b>your own input</b>"
        title = f"predicted <b>{shown}</b> ({confidence:.0f}%), {truth}"
        if title != self._title:  # a new title re-lays the whole grid out and repaints every panel
            self._title = title
            self.prob_plot.setTitle(title, size="9pt")

    def _update_status(self) -> None:
        parts = ["Your own input, from Explain; pick a test image to go back."] if self.showing_own else []
        if self._misclassified is not None and self._images is not None:
            parts.append(f"{len(self._misclassified):,} of {len(self._images):,} misclassified")
        self.status_label.setText("    ".join(parts))

    def _button(self, text: str, name: str, tip: str) -> QToolButton:
        button = named(QToolButton(), name, tip, tip)
        button.setText(text)
        return button
