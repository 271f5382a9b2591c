"""An image array drawn by a plain Qt widget: square pixels, top row at the top, fitted to the
widget until the wheel zooms (around the mouse) or a drag pans; hovering and clicking report
image coordinates.

A repaint is one `drawImage` of a QImage made once per new array. Plain Qt, so the window's
first paint needs no pyqtgraph (tests/benchmarks/README.md, App start-up)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from gui import theme

#: How much one wheel notch (120 units) zooms: pyqtgraph's views' factor, 1.02 per 8 units.
ZOOM_PER_UNIT = 1.02 ** (1 / 8)


class ImageCanvas(QWidget):
    """Shows one image (`show_image`); `view_rect` is the part of it in view, in image
    coordinates, and `fit` shows all of it again, as it is until the user zooms or pans."""

    hovered = Signal(QPointF)  # the image point under the mouse
    clicked = Signal(QPointF)  # the image point clicked (left button, no drag)
    resized = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._size = QSize(0, 0)  # the image's, in pixels
        self._view = QRectF()  # in view when zoomed or panned; fitted when None
        self._fitted = True
        self._pressed: QPointF | None = None  # where the left button went down
        self._dragged = False
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(60, 60)

    def show_image(self, values: np.ndarray, levels: tuple[float, float], colormap: str | None) -> None:
        """Draw `values` (H, W) through `colormap`, or (H, W, 3) colours (`colormap` None), over
        `levels`; NaN is left transparent. A new image keeps the zoom."""
        pixels = np.ascontiguousarray(theme.to_argb(values, levels, colormap))
        height, width = pixels.shape
        # opaque or wholly transparent, so already premultiplied; the copy owns its pixels
        image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_ARGB32_Premultiplied)
        self._image = image.copy()
        self._size = QSize(width, height)
        self.update()

    def clear(self) -> None:
        self._image, self._size = None, QSize(0, 0)
        self.update()

    @property
    def image(self) -> QImage | None:
        """What is drawn, one pixel per array element."""
        return self._image

    def pixels(self) -> np.ndarray:
        """What is drawn as ARGB32 numbers (H, W), one per array element: for reading it back."""
        if self._image is None:
            return np.zeros((0, 0), dtype=np.uint32)
        bits = np.frombuffer(self._image.constBits(), dtype=np.uint32)
        return bits.reshape(self._size.height(), -1)[:, : self._size.width()].copy()

    def fit(self) -> None:
        """Show the whole image, and keep it whole as the widget's size changes."""
        self._fitted = True
        self.update()

    @property
    def fitted(self) -> bool:
        return self._fitted

    def view_rect(self) -> QRectF:
        """The image rectangle the view is centred on and scaled to (all of it when fitted)."""
        if self._fitted:
            return QRectF(0, 0, self._size.width(), self._size.height())
        return QRectF(self._view)

    def _scale(self) -> float:
        """Widget pixels per image pixel."""
        view = self.view_rect()
        if view.isEmpty():
            return 1.0
        return min(self.width() / view.width(), self.height() / view.height())

    def map_from_image(self, point: QPointF) -> QPointF:
        """Widget coordinates of image point `point`."""
        centre = self.view_rect().center()
        return QRectF(self.rect()).center() + (point - centre) * self._scale()

    def map_to_image(self, point: QPointF) -> QPointF:
        centre = self.view_rect().center()
        return centre + (point - QRectF(self.rect()).center()) / self._scale()

    def image_rect(self) -> QRectF:
        """Where the whole image is drawn, in widget coordinates."""
        return QRectF(
            self.map_from_image(QPointF(0, 0)),
            self.map_from_image(QPointF(self._size.width(), self._size.height())),
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._image is None:
            return
        painter = QPainter(self)
        painter.drawImage(self.image_rect(), self._image)  # nearest pixel: no smoothing asked
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def _hold(self) -> None:
        """Leave fitting: the zoom and pan the user makes from here are kept."""
        if self._fitted:
            self._view, self._fitted = self.view_rect(), False

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._image is None:
            return
        self._hold()
        factor = ZOOM_PER_UNIT ** -event.angleDelta().y()  # away from the user: zoom in
        fixed = self.map_to_image(event.position())  # stays under the mouse
        centre = fixed + (self._view.center() - fixed) * factor
        self._view.setSize(self._view.size() * factor)
        self._view.moveCenter(centre)
        self.update()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed, self._dragged = event.position(), False

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pressed is not None and event.buttons() & Qt.MouseButton.LeftButton:
            moved = event.position() - self._pressed
            if self._dragged or moved.manhattanLength() >= QApplication.startDragDistance():
                self._dragged = True
                self._hold()
                self._view.translate(-moved / self._scale())
                self._pressed = event.position()
                self.update()
            return
        if self._image is not None:
            self.hovered.emit(self.map_to_image(event.position()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._pressed is None:
            return
        click = not self._dragged
        self._pressed = None
        if click and self._image is not None:
            self.clicked.emit(self.map_to_image(event.position()))
