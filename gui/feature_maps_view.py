"""One test image travelling through the network: the input, every layer's feature maps as a
mosaic, and the predicted class probabilities with the true label marked.

The view only draws; which image to show (and the misclassified list) comes from the window,
which gets the maps from the worker while training and from the idle network otherwise."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QVBoxLayout, QWidget

from engine.spec import LayerInfo, shape_text
from gui import theme
from gui.canvas import GraphicsLayoutWidget, ImagePanel
from gui.mosaic import map_mosaic
from gui.naming import named


def grid_columns(panels: int, width: float, height: float) -> int:
    """How many columns make `panels` roughly square panels largest in a width × height area."""
    return max(range(1, panels + 1), key=lambda cols: min(width / cols, height / math.ceil(panels / cols)))


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
        self._titles: list[str] = []
        self._ticks: list[tuple[int, str]] = []
        self._title = ""  # the probability panel's
        self._input_index: int | None = None  # the image the input panel shows
        #: Whether the maps are the user's own input's (Explain > Draw) rather than a test image's.
        self.showing_own = False
        # Made once: a live update restyles every bar.
        self._brushes = {
            "neutral": pg.mkBrush(theme.NEUTRAL),
            "correct": pg.mkBrush(theme.CORRECT),
            "wrong": pg.mkBrush(theme.WRONG),
        }
        self._pens = {"none": pg.mkPen(None), "true": pg.mkPen(theme.FOREGROUND, width=2)}

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

        self.graphics = GraphicsLayoutWidget()
        self.graphics.setToolTip("The input, each layer's feature maps, and the predicted probabilities")
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.graphics.ci.setSpacing(2)

        picker = QHBoxLayout()
        picker.addWidget(QLabel("Test image"))
        for widget in (self.index_spin, self.prev_button, self.next_button, self.random_button):
            picker.addWidget(widget)
        picker.addWidget(self.misclassified_check)
        picker.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(picker)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.status_label)

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
        self._titles = titles
        self.graphics.clear()
        self.shown_maps = []
        self.panels = [ImagePanel(title) for title in titles]
        self.map_images = [panel.image for panel in self.panels]
        for item in self.map_images[1:]:
            item.setColorMap(theme.MAP_COLORMAP)
        self._ticks, self._title, self._input_index = [], "", None
        self.prob_plot = pg.PlotItem(enableMenu=False)
        self.prob_plot.setMouseEnabled(x=False, y=False)
        self.prob_plot.hideButtons()
        self.prob_plot.setYRange(0, 1, padding=0.02)
        self.prob_plot.showGrid(y=True, alpha=0.15)
        theme.cache(*(axis["item"] for axis in self.prob_plot.axes.values()))
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.prob_plot.addItem(self.bars)
        self.true_marker = pg.TextItem("true", color=theme.FOREGROUND, anchor=(0.5, 1.0))
        self.prob_plot.addItem(self.true_marker)
        self.panels.append(self.prob_plot)
        self.columns = 0
        self._arrange()

    def _arrange(self) -> None:
        """Lay the panels out in the grid that makes them largest in the space there is now; the
        probabilities (last) take what is left of the bottom row."""
        size = self.graphics.size()
        columns = grid_columns(len(self.panels), size.width(), size.height())
        if columns == self.columns:
            return
        self.columns = columns
        self.graphics.clear()
        for n, panel in enumerate(self.panels):
            span = columns - n % columns if panel is self.prob_plot else 1
            self.graphics.addItem(panel, row=n // columns, col=n % columns, colspan=span)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.panels:
            self._arrange()

    def set_misclassified(self, predictions: np.ndarray | None) -> None:
        """Remember which test images the network gets wrong, from its predicted labels (None:
        not known for this network)."""
        self._misclassified = None if predictions is None else np.flatnonzero(predictions != self._labels)
        self._update_status()

    def network_changed(self, predict: Callable[[], np.ndarray]) -> None:
        """New weights: the misclassified list is `predict()`'s when ticked, else unknown (a count
        from the old weights would be stale)."""
        self.set_misclassified(predict() if self.misclassified_check.isChecked() else None)

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
        for item, maps_of_layer in zip(self.map_images[1:], maps[:-1], strict=True):
            mosaic = map_mosaic(maps_of_layer)
            low, high = float(np.nanmin(mosaic.image)), float(np.nanmax(mosaic.image))
            item.setImage(mosaic.image, levels=(low, high if high > low else low + 1))
        self._draw_probabilities(maps[-1], None if own is not None else int(self._labels[index]))
        self._update_status()

    def _show_input(self, image: np.ndarray) -> None:
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
        self.bars.setOpts(x=np.arange(len(probs)), height=probs, width=0.7, brushes=brushes, pens=pens)
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
        shown, confidence = names[predicted], 100 * probs[predicted]
        truth = f"true <b>{names[true]}</b>" if true is not None else "<b>your own input</b>"
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
