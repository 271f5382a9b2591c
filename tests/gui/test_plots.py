"""The live plots' pixels: what caching their frame must not change."""

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from engine import EpochInfo
from gui import theme
from gui.plots import AccuracyPlot


def test_legend_samples_show_their_curves_colours_after_data_arrives(qtbot):
    plot = AccuracyPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
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
