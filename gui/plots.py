"""The live loss and accuracy plots.

Batch losses arrive in bundles and are redrawn by a timer at most 5 times a second. The loss
curves are cut to the view and thinned to the pixels there are, so a long run stays as fast to
draw as a short one, and Qt draws them without Python (`_PathCurve`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QWidget,
)

from engine import EpochInfo
from gui import theme
from gui.canvas import PlotWidget
from gui.naming import named
from gui.smoothing import LossSmoother

REDRAW_MS = 200
SMOOTHING = 0.95
#: The smoothed curve's vertices per pixel at most: a trend this smooth looks the same from every
#: other pixel, for half the antialiased stroke.
SMOOTHED_POINTS_PER_PIXEL = 0.5


def visible(x: np.ndarray, y: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The points with x in [low, high] (x ascending), and one more on each side, so the lines
    leaving the view still reach its edges."""
    start = max(0, int(np.searchsorted(x, low)) - 1)
    stop = int(np.searchsorted(x, high, side="right")) + 1
    return x[start:stop], y[start:stop]


def peaks(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about 2 × `bins` points: each run of points as its lowest and highest y, so every
    spike still shows (pyqtgraph's "peak" downsampling)."""
    run = -(-len(x) // max(1, bins))  # points per bin, rounded up
    if run < 2:
        return x, y
    whole = len(x) // run * run
    runs = y[:whole].reshape(-1, run)
    xs = np.repeat(x[:whole:run], 2)
    ys = np.stack([runs.min(axis=1), runs.max(axis=1)], axis=1).ravel()
    return np.concatenate([xs, x[whole:]]), np.concatenate([ys, y[whole:]])


def thinned(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point, at most `points` of them, and always the last one."""
    step = max(1, -(-len(x) // max(1, points)))
    if step == 1:
        return x, y
    keep = np.append(np.arange(0, len(x) - 1, step), len(x) - 1)
    return x[keep], y[keep]


class _PathCurve(QGraphicsPathItem):
    """A curve Qt draws by itself: a pyqtgraph curve paints in Python, which holds the GIL the
    worker trains with, and the loss curves repaint 5 times a second. `opts` is what pyqtgraph's
    legend reads to draw the curve's sample."""

    def __init__(self, pen: QPen):
        super().__init__()
        pen.setCosmetic(True)  # width in pixels, whatever the view's scale
        self.setPen(pen)
        self.opts = {"pen": pen}
        self.bounds: tuple[tuple[float | None, float | None], ...] = ((None, None), (None, None))

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.setPath(pg.arrayToQPath(x, y))

    def dataBounds(self, axis: int, frac: float = 1.0, orthoRange=None) -> tuple[float | None, float | None]:
        """The whole series' extent, which pyqtgraph's auto-range asks for: the path holds only
        the points in view."""
        return self.bounds[axis]


#: A point's symbol: its diameter and edge, as pyqtgraph drew them.
SYMBOL_SIZE = 7
SYMBOL_EDGE = (200, 200, 200)


class _DottedCurve:
    """A line through per-epoch points with a dot of SYMBOL_SIZE pixels at each, whatever the
    view's scale, all drawn by Qt: a pyqtgraph curve with symbols paints and answers each
    repaint's questions (its bounds) in Python, holding the GIL the worker trains with."""

    def __init__(self, plot: pg.PlotItem, colour: str, name: str):
        self._plot = plot
        self.line = _PathCurve(pg.mkPen(colour, width=2))
        plot.addItem(self.line)
        plot.legend.addItem(self.line, name)
        self._pen, self._brush = pg.mkPen(SYMBOL_EDGE), pg.mkBrush(colour)
        self.dots: list[QGraphicsEllipseItem] = []  # one per point

    def set_data(self, series: _Series) -> None:
        x, y = series.x, series.y
        self.line.set_data(x, y)
        if self.line.bounds != (bounds := series.bounds()):
            self.line.bounds = bounds
            self._plot.getViewBox().itemBoundsChanged(self.line)
        while len(self.dots) > len(x):
            self._plot.removeItem(self.dots.pop())
        while len(self.dots) < len(x):
            r = SYMBOL_SIZE / 2
            dot = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPen(self._pen)
            dot.setBrush(self._brush)
            dot.setZValue(1)  # over the curves
            self._plot.addItem(dot, ignoreBounds=True)  # the line through them has their bounds
            self.dots.append(dot)
        for dot, a, b in zip(self.dots, x.tolist(), y.tolist(), strict=True):
            dot.setPos(a, b)


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

    def bounds(self) -> tuple[tuple[float | None, float | None], ...]:
        if not self.size:
            return (None, None), (None, None)
        return (float(self.x[0]), float(self.x[-1])), (float(self.y.min()), float(self.y.max()))

    @property
    def x(self) -> np.ndarray:
        return self._data[0, : self.size]

    @property
    def y(self) -> np.ndarray:
        return self._data[1, : self.size]


#: Where the accuracy legend may sit, the first free one taken: (legend's anchor, the view's
#: anchor, offset in pixels). Bottom right first, where a rising curve leaves room.
LEGEND_CORNERS = (
    ((1, 1), (1, 1), (-10, -10)),
    ((1, 0), (1, 0), (-10, 10)),
    ((0, 1), (0, 1), (10, -10)),
    ((0, 0), (0, 0), (10, 10)),
)


def traced(x: np.ndarray, y: np.ndarray, per_segment: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Points along the polyline through (x, y), `per_segment` to each segment, the ends kept."""
    if len(x) < 2:
        return x, y
    t = np.linspace(0, len(x) - 1, (len(x) - 1) * per_segment + 1)
    index = np.arange(len(x))
    return np.interp(t, index, x), np.interp(t, index, y)


class LineSample(pg.ItemSample):
    """A legend sample drawn as its curve's line alone: a dot in the legend reads as one more
    data point."""

    def paint(self, p: QPainter, *args: Any) -> None:
        p.setRenderHint(p.RenderHint.Antialiasing)
        p.setPen(pg.mkPen(self.item.opts["pen"]))
        p.drawLine(0, 11, 20, 11)


def _styled(
    widget: pg.PlotWidget, title: str, x_label: str, y_label: str, legend_at_top: bool = True
) -> pg.PlotItem:
    """`legend_at_top` False puts the legend bottom right, where a rising curve leaves room."""
    item = widget.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.addLegend(offset=(-10, 10 if legend_at_top else -10), sampleType=LineSample)
    return item


def _cache_frame(item: pg.PlotItem) -> None:
    """Cache the axes and the legend, once every curve has its entry: its samples draw their
    curves' pens, which never change."""
    theme.cache(*(axis["item"] for axis in item.axes.values()), item.legend)


class _EpochPlot(PlotWidget):
    """A plot over epochs whose x range is fixed while a run trains. Each plot's `rewind(epoch)`
    forgets its points after `epoch`: a run restarts an epoch that a stop cut short."""

    def clear_data(self) -> None:
        """No run: no points, and the axes as a new plot has them, not the last run's ranges."""
        self.rewind(-1.0)
        self.getPlotItem().setXRange(0, 1, padding=0.02)
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
        self.raw_curve = _PathCurve(pg.mkPen(theme.TRAIN_FAINT, width=0))  # a hairline
        self.smooth_curve = _PathCurve(pg.mkPen(theme.TRAIN, width=2))
        item.addItem(self.raw_curve)
        item.addItem(self.smooth_curve, ignoreBounds=True)  # within the raw curve's bounds
        item.legend.addItem(self.raw_curve, "batch loss")
        item.legend.addItem(self.smooth_curve, "smoothed")
        self.setAntialiasing(True)  # pyqtgraph's items set their own; these curves take the view's
        # Drawn by Qt too: the plot repaints under it with every bundle of batch losses.
        self.val_curve = _DottedCurve(item, theme.VALIDATION, "validation loss")
        _cache_frame(item)
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
        item.getViewBox().sigXRangeChanged.connect(self._view_changed)  # once there is state to draw
        item.getViewBox().sigResized.connect(self._view_changed)

    def close(self) -> bool:
        """pyqtgraph's close drops the plot item, which a later redraw would need."""
        self._timer.stop()
        return super().close()

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
        if epoch < 0:  # cleared: the y axis starts again from the next run's losses
            self._top = self._top_changed = self._peak = 0.0
            self.getPlotItem().setYRange(0, 1, padding=0)
        n = int(np.searchsorted(self.batches.x, epoch, side="right"))
        self.batches.keep(n)
        self.smoothed.keep(n)
        self.validation.keep(int(np.searchsorted(self.validation.x, epoch, side="right")))
        self._smoother.rewind(n, float(self.smoothed.y[-1]) if n else 0.0)
        self._peak = float(max(self.batches.y.max(initial=0.0), self.validation.y.max(initial=0.0)))
        self._dirty = self._validation_dirty = True

    def _view_changed(self) -> None:
        """Cut and thin the curves for the new range at once, so panning never shows a gap."""
        self._dirty = True
        self.redraw()

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        view = self.getPlotItem().getViewBox()
        (low, high), pixels = view.viewRange()[0], max(1.0, view.width())
        self.raw_curve.set_data(*peaks(*visible(self.batches.x, self.batches.y, low, high), int(pixels)))
        if self.raw_curve.bounds != (bounds := self.batches.bounds()):
            self.raw_curve.bounds = bounds
            view.itemBoundsChanged(self.raw_curve)
        points = int(SMOOTHED_POINTS_PER_PIXEL * pixels)
        self.smooth_curve.set_data(*thinned(*visible(self.smoothed.x, self.smoothed.y, low, high), points))
        if self._validation_dirty:  # once an epoch
            self._validation_dirty = False
            self.val_curve.set_data(self.validation)
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


def epoch_ticks(horizon: int, most: int = 10) -> list[int]:
    """Whole epochs from 0 to `horizon` a round step apart, the last epoch always among them
    (its neighbour dropped when half a step or less away)."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if horizon / s <= most)
    ticks = list(range(0, horizon + 1, step)) if horizon < 1000 * most else [0]
    if ticks[-1] != horizon:
        if horizon - ticks[-1] <= step / 2:
            ticks.pop()
        ticks.append(horizon)
    return ticks


def accuracy_range(values: np.ndarray) -> tuple[float, float]:
    """The y range (in %) for these accuracies: from a round ten below the lowest to a round ten
    above the highest, within 0 to 100; 0 to 100 when there are none."""
    if not values.size:
        return 0.0, 100.0
    low = max(0.0, 10 * np.floor((values.min() - 2) / 10))
    high = min(100.0, 10 * np.ceil((values.max() + 2) / 10))
    return float(low), float(high)


class AccuracyPlot(_EpochPlot):
    """Training and validation accuracy per epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(
            self, "accuracyPlot", "Training and validation accuracy at the end of each epoch", "Accuracy plot"
        )
        item = _styled(self, "Accuracy", "epoch", "accuracy (%)", legend_at_top=False)
        item.setYRange(0, 100, padding=0.05)
        self.setAntialiasing(True)  # Qt's items take the view's
        self.train_curve = _DottedCurve(item, theme.TRAIN, "train")
        self.val_curve = _DottedCurve(item, theme.VALIDATION, "validation")
        _cache_frame(item)
        self.train = _Series()
        self.validation = _Series()
        self._y_range = (0.0, 100.0)

    def add_epoch(self, info: EpochInfo) -> None:
        self.train.extend([info.epoch], [100 * info.train_acc])
        if info.val_acc is not None:
            self.validation.extend([info.epoch], [100 * info.val_acc])
        self._show()

    def rewind(self, epoch: float) -> None:
        self.train.keep(int(np.searchsorted(self.train.x, epoch, side="right")))
        self.validation.keep(int(np.searchsorted(self.validation.x, epoch, side="right")))
        self._show()

    def set_horizon(self, epochs: float) -> None:
        """Every epoch of the run ahead, the last one with a tick and half an epoch of room beyond
        it, so its point never sits on the border."""
        self.getPlotItem().setXRange(0, epochs + 0.5, padding=0)
        ticks = epoch_ticks(int(epochs))
        self.getPlotItem().getAxis("bottom").setTicks([[(t, str(t)) for t in ticks], []])
        self._place_legend()

    def clear_data(self) -> None:
        super().clear_data()
        self.getPlotItem().getAxis("bottom").setTicks(None)

    def _show(self) -> None:
        """The curves, and the y range fitted to them with room for a point's symbol (a point at
        100% is drawn whole)."""
        self.train_curve.set_data(self.train)
        self.val_curve.set_data(self.validation)
        low, high = accuracy_range(np.concatenate([self.train.y, self.validation.y]))
        if (low, high) != self._y_range:  # a new range redraws the axis: only when it changes
            self._y_range = (low, high)
            self.getPlotItem().setYRange(low, high, padding=0.05)
        self._place_legend()

    def _place_legend(self) -> None:
        """The legend in the first corner of :data:`LEGEND_CORNERS` where no point or line of
        the curves runs under it (with a point's radius to spare); the first when none is free."""
        item = self.getPlotItem()
        view, legend = item.getViewBox(), item.legend
        (x0, x1), (y0, y1) = item.viewRange()
        frame = view.boundingRect()
        xs, ys = zip(*(traced(s.x, s.y) for s in (self.train, self.validation)), strict=True)
        px = (np.concatenate(xs) - x0) / ((x1 - x0) or 1) * frame.width()
        py = (y1 - np.concatenate(ys)) / ((y1 - y0) or 1) * frame.height()
        size = legend.boundingRect().size()
        for corner in (*LEGEND_CORNERS, LEGEND_CORNERS[0]):
            (ax, ay), _, (dx, dy) = corner
            left = ax * frame.width() + dx - ax * size.width()
            top = ay * frame.height() + dy - ay * size.height()
            rect = QRectF(left, top, size.width(), size.height()).adjusted(-4, -4, 4, 4)
            if not any(rect.contains(QPointF(a, b)) for a, b in zip(px, py, strict=True)):
                break
        legend.anchor(*corner)
