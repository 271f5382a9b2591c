"""The live loss and accuracy plots.

Batch losses arrive in bundles and are redrawn by a timer at most 5 times a second; the curves
downsample by peak and clip to the view, so a long run stays as fast to draw as a short one."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from engine import EpochInfo
from engine.smoothing import LossSmoother
from gui import theme
from gui.canvas import PlotWidget
from gui.naming import named

REDRAW_MS = 200
SMOOTHING = 0.95
#: The smoothed curve's vertices per pixel at most (pyqtgraph draws up to 5): a trend this smooth
#: looks the same from every other pixel, and its antialiased stroke was half of a redraw.
SMOOTHED_POINTS_PER_PIXEL = 0.5


class _Series:
    """A growable float64 buffer of (x, y) points."""

    def __init__(self) -> None:
        self._data = np.empty((2, 1024), dtype=np.float64)
        self.size = 0

    def extend(self, x: list[float], y: list[float]) -> None:
        n = len(x)
        if self.size + n > self._data.shape[1]:
            grown = np.empty((2, max(2 * self._data.shape[1], self.size + n)), dtype=np.float64)
            grown[:, : self.size] = self._data[:, : self.size]
            self._data = grown
        self._data[0, self.size : self.size + n] = x
        self._data[1, self.size : self.size + n] = y
        self.size += n

    def keep(self, n: int) -> None:
        self.size = min(self.size, n)

    @property
    def x(self) -> np.ndarray:
        return self._data[0, : self.size]

    @property
    def y(self) -> np.ndarray:
        return self._data[1, : self.size]


def _styled(widget: pg.PlotWidget, title: str, x_label: str, y_label: str) -> pg.PlotItem:
    item = widget.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.addLegend(offset=(-10, 10))
    return item


def _cache_frame(item: pg.PlotItem) -> None:
    """Cache the axes and the legend's labels, once every curve has its entry. Not the legend's
    samples: they draw their curve's current symbol colours, which change without telling them."""
    theme.cache(*(axis["item"] for axis in item.axes.values()), *(label for _, label in item.legend.items))


class _EpochPlot(PlotWidget):
    """A plot over epochs whose x range is fixed while a run trains. Each plot's `rewind(epoch)`
    forgets its points after `epoch`: a run restarts an epoch that a stop cut short."""

    def clear_data(self) -> None:
        self.rewind(-1.0)
        self.getPlotItem().enableAutoRange(x=True)

    def set_horizon(self, epochs: float) -> None:
        """Show epochs 0 to `epochs` for the run ahead: a fixed x range spares redrawing the x axis
        (the costliest part of a redraw) with every new point."""
        self.getPlotItem().setXRange(0, epochs, padding=0.02)


class LossPlot(_EpochPlot):
    """Per-batch training loss, its smoothed trend, and per-epoch validation loss."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(
            self,
            "lossPlot",
            "Training loss per batch (faint), its smoothed trend, and validation loss per epoch",
            "Loss plot",
        )
        item = _styled(self, "Loss", "epoch", "cross-entropy loss")
        # The faint per-batch curve has the most vertices; antialiasing it cost more than it shows.
        self.raw_curve = item.plot(
            pen=pg.mkPen(theme.TRAIN_FAINT, width=1), name="batch loss", antialias=False
        )
        self.smooth_curve = item.plot(pen=pg.mkPen(theme.TRAIN, width=2), name="smoothed")
        self.val_curve = item.plot(
            pen=pg.mkPen(theme.VALIDATION, width=2),
            symbol="o",
            symbolSize=7,
            symbolBrush=theme.VALIDATION,
            name="validation loss",
        )
        _cache_frame(item)
        self.raw_curve.setDownsampling(auto=True, method="peak")
        self.smooth_curve.setDownsampling(auto=True, method="subsample")
        self.smooth_curve.opts["autoDownsampleFactor"] = SMOOTHED_POINTS_PER_PIXEL
        for curve in (self.raw_curve, self.smooth_curve):
            curve.setClipToView(True)
        self.batches = _Series()
        self.smoothed = _Series()
        self.validation = _Series()
        self._smoother = LossSmoother(SMOOTHING)
        self._dirty = False
        self._validation_dirty = False
        item.enableAutoRange(y=False)
        self._top = 0.0  # the y axis shows [0, _top]
        self._top_changed = 0.0
        self._peak = 0.0  # the largest loss shown, kept as points arrive
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

    def append(self, x: list[float], loss: list[float]) -> None:
        """Queue batch losses; the timer draws them."""
        self.batches.extend(x, loss)
        self.smoothed.extend(x, self._smoother.extend(loss))
        self._peak = max([self._peak, *loss])
        self._dirty = True

    def add_validation(self, epoch: float, loss: float) -> None:
        self.validation.extend([epoch], [loss])
        self._peak = max(self._peak, loss)
        self._dirty = self._validation_dirty = True

    def rewind(self, epoch: float) -> None:
        n = int(np.searchsorted(self.batches.x, epoch, side="right"))
        self.batches.keep(n)
        self.smoothed.keep(n)
        self.validation.keep(int(np.searchsorted(self.validation.x, epoch, side="right")))
        self._smoother.rewind(n, float(self.smoothed.y[-1]) if n else 0.0)
        self._peak = float(max(self.batches.y.max(initial=0.0), self.validation.y.max(initial=0.0)))
        self._dirty = self._validation_dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.raw_curve.setData(self.batches.x, self.batches.y)
        self.smooth_curve.setData(self.smoothed.x, self.smoothed.y)
        if self._validation_dirty:  # its symbols make it the dearest curve to set, once an epoch
            self._validation_dirty = False
            self.val_curve.setData(self.validation.x, self.validation.y)
        self._rescale()

    def _rescale(self) -> None:
        """Fit the y axis to the losses at most once a second, so the axis (the costliest part of
        a repaint) is redrawn with the range rather than with every new point."""
        if not self.batches.size:
            return
        wanted = 1.1 * self._peak
        now = time.monotonic()
        if (wanted > self._top or wanted < 0.6 * self._top) and now - self._top_changed >= 1.0:
            self._top, self._top_changed = wanted, now
            self.getPlotItem().setYRange(0, wanted, padding=0)


class AccuracyPlot(_EpochPlot):
    """Training and validation accuracy per epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(
            self, "accuracyPlot", "Training and validation accuracy at the end of each epoch", "Accuracy plot"
        )
        item = _styled(self, "Accuracy", "epoch", "accuracy (%)")
        item.setYRange(0, 100, padding=0.02)
        symbols = {"symbol": "o", "symbolSize": 7}
        self.train_curve = item.plot(
            pen=pg.mkPen(theme.TRAIN, width=2), symbolBrush=theme.TRAIN, name="train", **symbols
        )
        self.val_curve = item.plot(
            pen=pg.mkPen(theme.VALIDATION, width=2),
            symbolBrush=theme.VALIDATION,
            name="validation",
            **symbols,
        )
        _cache_frame(item)
        self.train = _Series()
        self.validation = _Series()

    def add_epoch(self, info: EpochInfo) -> None:
        self.train.extend([info.epoch], [100 * info.train_acc])
        if info.val_acc is not None:
            self.validation.extend([info.epoch], [100 * info.val_acc])
        self.train_curve.setData(self.train.x, self.train.y)
        self.val_curve.setData(self.validation.x, self.validation.y)

    def rewind(self, epoch: float) -> None:
        self.train.keep(int(np.searchsorted(self.train.x, epoch, side="right")))
        self.validation.keep(int(np.searchsorted(self.validation.x, epoch, side="right")))
        self.train_curve.setData(self.train.x, self.train.y)
        self.val_curve.setData(self.validation.x, self.validation.y)
