"""The live plots: their pixels, which caching their frame must not change, and how the loss
curves are cut to the view and thinned."""

import numpy as np
import pyqtgraph as pg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QImage

from engine import EpochInfo
from gui import theme
from gui.plots import AccuracyPlot, LineSample, LossPlot, peaks, thinned, traced, visible


def test_the_accuracy_legend_sits_below_where_accuracy_climbs(shown):
    """Accuracy rises towards the top right: a legend there would cover the last epochs."""
    plot = shown(AccuracyPlot(), 400, 300)
    for epoch, acc in ((1, 0.6), (2, 0.93), (3, 0.97)):
        plot.add_epoch(EpochInfo(epoch, 3, 0.5, acc, 0.6, acc, 0.03, 1.0, 1000.0))
    plot.grab()
    legend = plot.getPlotItem().legend.sceneBoundingRect()
    view = plot.getPlotItem().getViewBox().sceneBoundingRect()
    assert legend.top() > view.center().y(), (legend, view)
    assert legend.right() > view.center().x()


@pytest.mark.parametrize(
    "accuracies", [(0.6, 0.93, 0.97), (0.9, 0.5, 0.1), (0.1, 0.9, 0.1), (0.1, 0.12, 0.1)]
)
def test_the_accuracy_legend_keeps_off_the_curves_wherever_they_run(shown, accuracies):
    plot = shown(AccuracyPlot(), 400, 300)
    plot.set_horizon(3)
    for epoch, acc in enumerate(accuracies, 1):
        plot.add_epoch(EpochInfo(epoch, 3, 0.5, acc, 0.6, acc - 0.02, 0.03, 1.0, 1000.0))
    plot.grab()
    item = plot.getPlotItem()
    legend, view = item.legend.sceneBoundingRect(), item.getViewBox()
    for series in (plot.train, plot.validation):
        for x, y in zip(*traced(series.x, series.y), strict=True):
            assert not legend.contains(view.mapViewToScene(QPointF(x, y))), (x, y, legend)


def test_the_legend_draws_a_line_not_a_point(shown):
    """A dot in the legend reads as one more data point: the sample is its curve's line alone."""
    plot = shown(AccuracyPlot())
    plot.add_epoch(EpochInfo(1, 3, 0.5, 0.8, 0.6, 0.75, 0.03, 1.0, 1000.0))
    image = plot.grab().toImage()
    background = image.pixelColor(plot.mapFromScene(plot.getPlotItem().legend.sceneBoundingRect().topLeft()))
    for sample, _ in plot.getPlotItem().legend.items:
        above_the_line = plot.mapFromScene(sample.mapToScene(QPointF(10, 8)))  # inside a 7 px dot
        assert _close(image.pixelColor(above_the_line), background), sample


def test_legend_samples_show_their_curves_colours_after_data_arrives(shown):
    plot = shown(AccuracyPlot())
    plot.grab()  # painted once before any data: a cached sample would keep these colours
    plot.add_epoch(EpochInfo(1, 3, 0.5, 0.8, 0.6, 0.75, 0.03, 1.0, 1000.0))
    image = plot.grab().toImage()
    legend = plot.getPlotItem().legend
    for (sample, _), colour in zip(legend.items, (theme.TRAIN, theme.VALIDATION), strict=True):
        centre = plot.mapFromScene(sample.mapToScene(QPointF(10, 10)))  # where the symbol is drawn
        pixel, want = image.pixelColor(centre), QColor(colour)
        assert (
            max(
                abs(pixel.red() - want.red()),
                abs(pixel.green() - want.green()),
                abs(pixel.blue() - want.blue()),
            )
            < 40
        ), (pixel.name(), colour)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=400), st.integers(1, 100))
@example([0.0] * 399, 100)  # 3.99 points a bin: rounding the run down would make 133 bins
def test_peaks_keep_every_extreme_in_at_most_two_points_per_bin(values, bins):
    y = np.array(values)
    x = np.arange(len(y), dtype=np.float64)
    px, py = peaks(x, y, bins)
    run = -(-len(y) // bins)
    assert len(px) <= (2 * bins + run if run >= 2 else len(y))
    assert py.min() == y.min() and py.max() == y.max()
    assert np.all(np.diff(px) >= 0)
    assert set(py) <= set(y)


@given(st.integers(1, 500), st.integers(1, 100))
def test_thinning_keeps_the_ends_and_at_most_the_points_asked_for(n, points):
    x = np.arange(n, dtype=np.float64)
    tx, ty = thinned(x, -x, points)
    assert len(tx) <= points + 1 and tx[0] == 0 and tx[-1] == n - 1
    np.testing.assert_array_equal(ty, -tx)


def test_visible_keeps_the_points_in_range_and_one_beyond_each_edge():
    x = np.arange(10, dtype=np.float64)
    vx, vy = visible(x, 2 * x, 2.5, 5.5)
    np.testing.assert_array_equal(vx, [2, 3, 4, 5, 6])
    np.testing.assert_array_equal(vy, 2 * vx)
    assert len(visible(x, x, 20, 30)[0]) == 1  # past the end: the last point, for the line's end


def _close(pixel: QColor, colour: QColor, tolerance: int = 40) -> bool:
    return (
        max(
            abs(pixel.red() - colour.red()),
            abs(pixel.green() - colour.green()),
            abs(pixel.blue() - colour.blue()),
        )
        < tolerance
    )


def _near(image: QImage, centre: QPoint, colour: QColor, radius: int = 2) -> bool:
    """Whether a pixel within `radius` of `centre` is close to `colour` (lines are antialiased)."""
    return any(
        _close(image.pixelColor(centre + QPoint(dx, dy)), colour)
        for dx in range(-radius, radius + 1)
        for dy in range(-radius, radius + 1)
    )


def test_the_loss_curves_and_their_legend_are_drawn_in_their_pens(shown):
    theme.apply()  # the window's light background, which the faint curve's colour is blended over
    plot = shown(LossPlot())
    plot.set_horizon(2.0)
    plot.getPlotItem().setYRange(0, 2.5, padding=0)
    x = np.linspace(0.01, 1.0, 100)
    plot.append(list(x), list(2.0 - x))  # falls from about 2 to 1 over the first epoch
    plot.redraw()
    image = plot.grab().toImage()
    view = plot.getPlotItem().getViewBox()

    def at(epoch: float, loss: float) -> QPoint:
        return plot.mapFromScene(view.mapViewToScene(QPointF(epoch, loss)))

    faint = QColor(*theme.TRAIN_FAINT)
    on_white = QColor(*(round(255 + faint.alphaF() * (c - 255)) for c in faint.getRgb()[:3]))
    assert _near(image, at(x[50], 2.0 - x[50]), on_white)
    assert _near(image, at(plot.smoothed.x[50], plot.smoothed.y[50]), QColor(theme.TRAIN))
    assert _close(image.pixelColor(at(1.63, 1.12)), pg.mkColor(theme.BACKGROUND))  # nothing after the data
    samples = [sample for sample, _ in plot.getPlotItem().legend.items]
    for sample, colour in zip(
        samples, (on_white, QColor(theme.TRAIN), QColor(theme.VALIDATION)), strict=True
    ):
        assert _near(image, plot.mapFromScene(sample.mapToScene(QPointF(3, 11))), colour), sample


def test_view_all_after_zooming_in_shows_every_loss(shown):
    """The curve's path holds only the points in view; auto-range must still see them all."""
    plot = shown(LossPlot())
    x = np.linspace(0.01, 2.0, 400)
    plot.append(list(x), list(3.0 - x))
    plot.redraw()
    view = plot.getPlotItem().getViewBox()
    view.setRange(xRange=(0.5, 0.6), yRange=(2.4, 2.5), padding=0)  # redraws at once
    assert plot.raw_curve.path().elementCount() < 40  # only what is in view
    view.autoRange(padding=0)
    (x_low, x_high), (y_low, y_high) = view.viewRange()
    assert x_low <= 0.01 and x_high >= 2.0 and y_low <= 1.0 and y_high >= 2.99


@pytest.fixture
def python_paints(monkeypatch) -> list[str]:
    """Each call to pyqtgraph's curve and scatter code, and to its legend's painting, from then
    on: Python, which holds the GIL the worker trains with."""
    called = []

    def counted(name, method):
        return lambda self, *args: called.append(name) or method(self, *args)

    curves = (pg.ScatterPlotItem, pg.PlotCurveItem, pg.PlotDataItem)
    for cls, name in [*((c, n) for c in curves for n in ("paint", "boundingRect")), *(
        (pg.LegendItem, "paint"), (LineSample, "paint")  # Qt asks a cached item for its bounds still
    )]:
        if name in vars(cls):
            monkeypatch.setattr(cls, name, counted(f"{cls.__name__}.{name}", vars(cls)[name]))
    return called


def test_nothing_in_the_loss_plot_paints_in_python_as_batches_arrive(shown, python_paints, qtbot):
    """The loss plot repaints 5 times a second while a run trains: its curves and the validation
    points are Qt's own items and its legend a pixmap, so those repaints run no pyqtgraph curve,
    scatter or legend code."""
    plot = shown(LossPlot())
    plot.set_horizon(3.0)
    plot.add_validation(1.0, 1.2)
    plot.add_validation(2.0, 0.9)
    for batch in range(6):
        plot.append([1 + batch / 10, 1.05 + batch / 10], [1.5, 1.4])
        plot.redraw()
        qtbot.wait(20)
        if batch == 0:  # the first losses set the y range: everything is drawn anew once
            qtbot.wait(100)
            python_paints.clear()
    assert python_paints == []


def test_an_epochs_accuracy_is_drawn_without_pyqtgraphs_curves(shown, python_paints, qtbot):
    plot = shown(AccuracyPlot())
    plot.set_horizon(3)
    qtbot.wait(50)
    for epoch, acc in enumerate((0.6, 0.8, 0.9), 1):
        plot.add_epoch(EpochInfo(epoch, 3, 0.5, acc, 0.6, acc - 0.02, 0.03, 1.0, 1000.0))
        qtbot.wait(20)
        if epoch == 1:  # the legend, placed in its corner, drawn (and kept) once
            assert set(python_paints) <= {"LegendItem.paint", "LineSample.paint"}
            python_paints.clear()
    assert python_paints == []
    assert [len(curve.dots) for curve in (plot.train_curve, plot.val_curve)] == [3, 3]


def test_the_validation_points_are_dots_of_their_colour(shown):
    plot = shown(LossPlot())
    plot.set_horizon(3.0)
    plot.getPlotItem().setYRange(0, 2.5, padding=0)
    plot.add_validation(1.0, 1.2)
    plot.add_validation(2.0, 0.9)
    plot.redraw()
    image = plot.grab().toImage()
    view = plot.getPlotItem().getViewBox()
    for epoch, loss in ((1.0, 1.2), (2.0, 0.9)):
        centre = plot.mapFromScene(view.mapViewToScene(QPointF(epoch, loss)))
        for dx in (-1, 0, 1):  # a dot, not the 2 px line alone; 7 px across
            for dy in (-1, 0, 1):
                assert _close(image.pixelColor(centre + QPoint(dx, dy)), QColor(theme.VALIDATION))
        assert not _close(image.pixelColor(centre + QPoint(0, 6)), QColor(theme.VALIDATION))
    plot.rewind(1.0)  # the second epoch forgotten: its dot goes
    plot.redraw()
    assert len(plot.val_curve.dots) == 1
