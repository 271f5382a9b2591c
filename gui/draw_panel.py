"""Draw your own input: the drawing pad with its brush, clear, undo and "open image", the image
as the network sees it, and the network's prediction, updated live as the user draws.

The panel prepares the input; the prediction is shown from the maps the window works out for
every view at once (one forward pass per update). The pad's changes are gathered for
UPDATE_MS, so a fast stroke costs one update per interval, not one per mouse move."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import ConvScopeError
from engine.drawing import load_image, prepare_drawing
from gui.cell_grid import CellGrid
from gui.drawing_pad import DrawingPad
from gui.naming import named
from gui.plain_text import plain

#: How many of the most probable classes the prediction lists.
TOP = 3
#: The brush colours offered for a colour network (black rubs ink out), at full strength (Qt's
#: own "green" is #008000); "Other…" asks for any.
COLOURS = {
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#00ff00",
    "blue": "#0000ff",
    "yellow": "#ffff00",
    "cyan": "#00ffff",
    "magenta": "#ff00ff",
    "orange": "#ff8000",
    "grey": "#808080",
    "black": "#000000",
}
OTHER = "Other…"
#: How long the pad's changes are gathered before the input is prepared again (ms).
UPDATE_MS = 40


class DrawPanel(QWidget):
    """`inputChanged` is emitted with each new input (C, H, W) the user draws or opens."""

    inputChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "drawPanel", accessible="Draw your own input")
        self.pad = named(DrawingPad(), "drawingPad", "Draw with the mouse or a pen", "Drawing pad")
        self.brush_spin = named(QSpinBox(), "brushSize", "Brush size (pad pixels)", "Brush size")
        self.brush_spin.setRange(2, 60)
        self.brush_spin.setValue(self.pad.brush)
        self.clear_button = named(QPushButton("Clear"), "drawClear", "Wipe the pad")
        self.undo_button = named(QPushButton("Undo"), "drawUndo", "Take back the last stroke")
        self.open_button = named(QPushButton("Open image…"), "drawOpen", "Use a PNG or JPEG file as input")
        self.colour_combo = named(QComboBox(), "brushColour", "Brush colour (colour networks)", "Colour")
        for name, rgb in COLOURS.items():
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(rgb))
            self.colour_combo.addItem(QIcon(swatch), name, QColor(rgb))
        self.colour_combo.addItem(OTHER)
        self.colour_combo.hide()
        self.seen_grid = named(CellGrid(), "drawSeen", "The input as the network sees it")
        self.seen_colour = named(QLabel(), "drawSeenColour", "The input as the network sees it, in colour")
        self.seen_colour.setMinimumSize(140, 140)
        self.seen_colour.hide()
        self.prediction_label = plain(named(QLabel(), "drawPrediction"))
        self.network: Any = None
        self.normalization: Any = None
        self.class_names: tuple[str, ...] = ()
        self.image: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None

        tools = QHBoxLayout()
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.brush_spin)
        tools.addWidget(self.colour_combo)
        for widget in (self.undo_button, self.clear_button, self.open_button):
            tools.addWidget(widget)
        tools.addStretch(1)
        grid = QGridLayout()
        grid.addWidget(QLabel("Draw here"), 0, 0)
        grid.addWidget(QLabel("As the network sees it"), 0, 1)
        grid.addWidget(self.pad, 1, 0)
        grid.addWidget(self.seen_grid, 1, 1)
        grid.addWidget(self.seen_colour, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addLayout(grid, 1)
        layout.addWidget(self.prediction_label)

        self.brush_spin.valueChanged.connect(lambda v: setattr(self.pad, "brush", v))
        self.clear_button.clicked.connect(self.pad.clear)
        self.undo_button.clicked.connect(self.pad.undo)
        self.open_button.clicked.connect(self._ask_file)
        self.colour_combo.activated.connect(self._colour_chosen)
        self.update_timer = QTimer(self)
        self.update_timer.setSingleShot(True)
        self.update_timer.setInterval(UPDATE_MS)
        self.update_timer.timeout.connect(self._drawn)
        self.pad.drawn.connect(lambda: self.update_timer.isActive() or self.update_timer.start())

    def set_network(self, network: Any, normalization: Any, class_names: tuple[str, ...]) -> None:
        """The network the drawing is fed to, and the data set's normalisation and class names."""
        self.network, self.normalization, self.class_names = network, normalization, class_names
        colour = network.input_shape[0] == 3
        if colour != self.pad.in_colour:
            self.pad.set_colour_mode(colour)
            self.colour_combo.setCurrentIndex(0)
        self.colour_combo.setVisible(colour)
        self.seen_grid.setVisible(not colour)
        self.seen_colour.setVisible(colour)
        self._show(prepare_drawing(self.pad.ink(), network.input_shape, normalization))

    def _colour_chosen(self, index: int) -> None:
        colour = self.colour_combo.itemData(index)
        if colour is None:  # Other…
            colour = QColorDialog.getColor(self.pad.colour, self, "Brush colour")
            if not colour.isValid():
                self.colour_combo.setCurrentIndex(self.colour_combo.findData(self.pad.colour))
                return
        self.pad.colour = QColor(colour)

    def _drawn(self) -> None:
        if self.network is not None:
            self.show_input(prepare_drawing(self.pad.ink(), self.network.input_shape, self.normalization))

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", "Images (*.png *.jpg *.jpeg *.bmp)")
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        """Use the image file at `path` as input; a file that cannot be read is said below."""
        try:
            image = load_image(path, self.network.input_shape, self.normalization)
        except ConvScopeError as exc:  # it names the file
            self.prediction_label.setText(f"Could not open {exc}")
            return
        self.show_input(image)

    def _name(self, k: int) -> str:
        """Class `k`'s name, or its number where the data set names fewer classes."""
        return self.class_names[k] if k < len(self.class_names) else str(k)

    def show_input(self, image: np.ndarray) -> None:
        """Take `image` (C, H, W) as the user's input: show it as the network sees it, and say so
        (`inputChanged`); its prediction comes back through :meth:`show_prediction`."""
        self._show(image)
        self.inputChanged.emit()

    def _show(self, image: np.ndarray) -> None:
        self.image = image
        if image.shape[0] == 3:
            self.seen_colour.setPixmap(colour_pixmap(image, self.seen_colour.minimumSize().width()))
        else:
            self.seen_grid.show_values(image[0])

    def show_prediction(self, probabilities: np.ndarray) -> None:
        """The network's class probabilities for the input: the most probable classes."""
        self.probabilities = probabilities
        top = np.argsort(probabilities)[::-1][:TOP]
        listed = ", ".join(f"{self._name(k)} {probabilities[k]:.0%}" for k in top)
        self.prediction_label.setText(f"Prediction: {self._name(top[0])}    ({listed})")


def colour_pixmap(image: np.ndarray, side: int) -> QPixmap:
    """An RGB input (3, H, W) as a picture `side` pixels wide, its values stretched to the full
    range (a normalised input has no fixed one), each pixel a block."""
    low, high = float(image.min()), float(image.max())
    pixels = (image - low) / (high - low) if high > low else np.zeros_like(image)
    rgb = np.ascontiguousarray((pixels.transpose(1, 2, 0) * 255).astype(np.uint8))
    h, w, _ = rgb.shape
    picture = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(picture.scaledToWidth(side))
