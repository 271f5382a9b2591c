"""One test image travelling through the network: the input, every layer's feature maps as a
mosaic, and the predicted class probabilities with the true label marked.

The view only draws; which image to show (and the misclassified list) comes from the window,
which gets the maps from the worker while training and from the idle network otherwise. Each
layer's maps are drawn over round levels of their own (mosaic.nice_levels); the colour bar gives
the levels of the layer last hovered, the hover line the channel and value under the mouse, and
a click opens one map large. The wheel zooms a panel and a drag pans it; Fit shows them whole.

The panels are plain Qt widgets, the filters' image canvas and colour bar (one way of drawing
an image in the window), made by `build_drawing` just after the window's first show so that
its first paint is the filters alone; what the view is asked to show before then is drawn then."""

from __future__ import annotations

import math
import random

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.spec import LayerInfo, shape_text
from gui import theme
from gui.backdrop import Backdrop
from gui.color_bar import ColorBar
from gui.image_canvas import ImageCanvas
from gui.map_detail import MapDetail, value_text
from gui.mosaic import Mosaic, grid_columns, map_mosaic, nice_levels
from gui.naming import named
from gui.probability_chart import ProbabilityChart

HOVER_HINT = "Hover a map to read its channel and values; click it to see it large"
#: A panel's height to its width: a square image under a line of title.
PANEL = (1.15, 1.0)
#: The panels' titles, in points.
TITLE_POINTS = 9.0


class MapPanel(QWidget):
    """One image of the view under its title: the input, or one layer's maps as a mosaic."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        font = QFont(self.title.font())
        font.setPointSizeF(TITLE_POINTS)
        self.title.setFont(font)
        self.canvas = ImageCanvas()
        self.canvas.setMinimumSize(30, 30)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)


class _Panels(Backdrop):
    """The panels' place: it asks the window for room as the empty backdrop before it did, so
    the window is shared out alike whether the panels are made before or after the first show."""

    def minimumSizeHint(self) -> QSize:
        return QSize()


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
        self.panels: list[MapPanel] = []  # the input's, then each layer's maps'
        self.columns = 0
        self.shown_maps: list[np.ndarray] = []
        self.mosaics: list[Mosaic] = []  # each layer's, as drawn
        self.levels: list[tuple[float, float]] = []  # each layer's colour levels
        self._infos: list[LayerInfo] = []  # the layers whose maps the panels after the input show
        self.shown_input: np.ndarray | None = None  # the input shown (C, H, W)
        self._hovered: tuple[int, float, float] | None = None  # panel, image x, y; described on each draw
        self._bar_panel = 1  # the panel whose levels the colour bar gives
        self.detail: MapDetail | None = None
        self._titles: list[str] = []
        self._input_index: int | None = None  # the image the input panel shows
        #: Whether the maps are the user's own input's (Explain > Draw) rather than a test image's.
        self.showing_own = False
        #: The panels' place, made by build_drawing; until then a backdrop keeps it.
        self.graphics: Backdrop | None = None
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
        self.fit_button = self._button(
            "Fit", "featureMapFitButton", "Fit every map to its panel (the wheel zooms, a drag pans)"
        )
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.random_button.clicked.connect(self.pick_random)
        self.fit_button.clicked.connect(self.fit)
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
        reading = QHBoxLayout()  # under the panels, beside the hover line: the picker is full
        reading.addWidget(self.hover_label, 1)
        reading.addWidget(self.fit_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(picker)
        layout.addWidget(self._space, 1)
        layout.addLayout(reading)
        layout.addWidget(self.status_label)

    def build_drawing(self) -> None:
        """Make the panels' place in the backdrop's, once, and draw the layers and maps shown
        meanwhile. The window calls it just after its first show."""
        if self.graphics is not None:
            return
        self.graphics = named(_Panels(), "featureMapPanels")
        self.graphics.setToolTip("The input, each layer's feature maps, and the predicted probabilities")
        self._grid = QGridLayout(self.graphics)
        self._grid.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setSpacing(2)
        self.color_bar = named(ColorBar(theme.MAP_COLORMAP, "", vertical=True), "featureMapColorBar")
        self.probabilities = named(ProbabilityChart(), "probabilityChart")
        # read as the panel after the maps, the class under the mouse its x
        self.probabilities.hovered.connect(lambda c: self._hover(len(self.panels), QPointF(c, 0)))
        self.graphics.setGeometry(self._space.geometry())  # the panels' grid is chosen for it
        self.layout().replaceWidget(self._space, self.graphics)
        self._space.deleteLater()
        if self._layers_waiting is not None:
            self.set_layers(self._layers_waiting)
        if self._waiting is not None:
            self.show_maps(*self._waiting)
        self.graphics.show()
        self._grid.activate()  # the panels in place now, as they are once painted

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
        """Build one panel per layer of a (new) network; the same layers keep their panels."""
        titles = ["input", *[f"{i.index} {i.type} {shape_text(i.output_shape)}" for i in infos[:-1]]]
        if titles == self._titles:
            return
        self._infos = infos[:-1]
        if self.graphics is None:  # drawn by build_drawing
            self._layers_waiting = infos
            return
        self._titles = titles
        for panel in self.panels:
            self._grid.removeWidget(panel)
            panel.hide()  # at once: it is deleted when the event loop next turns
            panel.deleteLater()
        self.shown_maps, self.mosaics, self.levels = [], [], []
        self._hovered, self._bar_panel, self._input_index = None, 1, None
        self.panels = [MapPanel(title, self.graphics) for title in titles]
        for n, panel in enumerate(self.panels):
            panel.canvas.hovered.connect(lambda point, n=n: self._hover(n, point))
            panel.canvas.clicked.connect(lambda point, n=n: self._clicked(n, point))
        self.columns = 0
        self._arrange()

    def _arrange(self) -> None:
        """Lay the panels out in the grid that makes them largest in the space there is now; the
        probabilities (last) take what is left of the bottom row, the colour bar the right."""
        size = self.graphics.size()
        count = len(self.panels) + 1
        width = max(1, size.width() - self.color_bar.sizeHint().width())
        columns = grid_columns(count, width, size.height(), PANEL)
        if columns == self.columns:
            return
        for column in range(max(self.columns, columns) + 1):
            self._grid.setColumnStretch(column, 0)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 0)
        self.columns = columns
        for widget in (*self.panels, self.probabilities, self.color_bar):
            self._grid.removeWidget(widget)
        for n, panel in enumerate(self.panels):
            self._grid.addWidget(panel, n // columns, n % columns)
        n = len(self.panels)
        self._grid.addWidget(self.probabilities, n // columns, n % columns, 1, columns - n % columns)
        rows = math.ceil(count / columns)
        self._grid.addWidget(self.color_bar, 0, columns, rows, 1)
        for column in range(columns):
            self._grid.setColumnStretch(column, 1)
        for row in range(rows):
            self._grid.setRowStretch(row, 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.panels:
            self._arrange()

    def fit(self) -> None:
        """Show every map whole again, after the wheel or a drag."""
        for panel in self.panels:
            panel.canvas.fit()

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
        if self._images is None or index != self.index or len(maps) != len(self.panels):
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
        for panel, maps_of_layer in zip(self.panels[1:], maps[:-1], strict=True):
            mosaic = map_mosaic(maps_of_layer)
            levels = nice_levels(float(np.nanmin(mosaic.image)), float(np.nanmax(mosaic.image)))
            panel.canvas.show_image(mosaic.image, levels, theme.MAP_COLORMAP)
            self.mosaics.append(mosaic)
            self.levels.append(levels)
        names = self._class_names or tuple(map(str, range(len(maps[-1]))))
        true = None if own is not None else int(self._labels[index])
        self.probabilities.set_probabilities(maps[-1], true, names)
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
        it is drawn again then)."""
        if not self.levels:
            return
        panel = min(self._bar_panel, len(self.levels))
        if self.color_bar.levels() != self.levels[panel - 1]:
            self.color_bar.set_levels(self.levels[panel - 1])
        name = self._layer_name(panel)
        if self.color_bar.label != name:
            self.color_bar.set_label(name)

    def _hover(self, n: int, point: QPointF) -> None:
        if not self.shown_maps:
            return
        self._hovered = (n, point.x(), point.y())
        if 0 < n < len(self.panels) and n != self._bar_panel:
            self._bar_panel = n
            self._show_bar()
        self._describe()

    def _describe(self) -> None:
        """Name the channel and the value under the mouse, read from the maps shown now."""
        text = HOVER_HINT if self._hovered is None else self._point_text(*self._hovered) or HOVER_HINT
        if text != self.hover_label.text():
            self.hover_label.setText(text)

    def _point_text(self, n: int, x: float, y: float) -> str | None:
        if n == len(self.panels):  # the probabilities
            probs, names = self.probabilities.probs, self.probabilities.names
            c = int(x)
            return f"class {names[c]}: probability {probs[c]:.3g}" if c < len(probs) else None
        if n == 0:
            image = self.shown_input
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

    def _clicked(self, n: int, point: QPointF) -> None:
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
        """The input in grey, or in its colours, over its own lowest and highest values."""
        self.shown_input = image
        grey = image.shape[0] == 1
        pixels = np.repeat(image[0][..., None], 3, axis=-1) if grey else image.transpose(1, 2, 0)
        levels = (float(np.nanmin(image)), float(np.nanmax(image)))
        self.panels[0].canvas.show_image(pixels, levels, None)

    def _update_status(self) -> None:
        parts = ["Your own input, from Explain; pick a test image to go back."] if self.showing_own else []
        if self._misclassified is not None and self._images is not None:
            parts.append(f"{len(self._misclassified):,} of {len(self._images):,} misclassified")
        self.status_label.setText("    ".join(parts))

    def _button(self, text: str, name: str, tip: str) -> QToolButton:
        button = named(QToolButton(), name, tip, tip)
        button.setText(text)
        return button
