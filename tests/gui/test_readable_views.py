"""The filter and feature-map views a user reads: the mosaic fills its view, the wheel zooms, a
click shows one filter or one feature map large with its numbers, hovering names the channel and
the value, and the layer list reads whole at 100% and 200%."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from engine import Network
from engine.spec import default_spec
from gui import theme
from gui.filters_view import FiltersView
from gui.map_detail import value_text
from gui.number_table import cell_text
from gui.snapshot import take_snapshot


@pytest.fixture
def deep_filters(shown, mnist):
    """The filter view as the window lays it out (about 300×460), showing a second conv layer of
    40 filters × 8 input channels, as in the findings' screenshot."""
    spec = default_spec()
    spec["layers"][0]["filters"] = 8
    net = Network(spec, seed=0, device="cpu")
    view = shown(FiltersView(), 300, 460)
    view.set_layers(net.infos, 1)
    view.layer_combo.setCurrentIndex(1)
    snapshot = take_snapshot(net, mnist.test.x, 0)
    view.show_kernels(snapshot.kernels, snapshot.biases)
    view.grab()  # lays the scene out
    return view, snapshot


def _view_point(view, x: float, y: float) -> QPoint:
    """Where mosaic pixel (x, y) is in the mosaic's canvas."""
    return view.canvas.map_from_image(QPointF(x, y)).toPoint()


def _filled(view) -> float:
    """The part of the canvas that the mosaic covers on screen."""
    box = QRectF(view.canvas.rect())
    drawn = view.canvas.image_rect().intersected(box)
    return drawn.width() * drawn.height() / (box.width() * box.height())


def test_deep_layer_filters_fill_the_view(deep_filters):
    view, _ = deep_filters
    assert view.mosaic.count == 40 * 8 and view.mosaic.parts == 8
    assert view.mosaic.cols >= 2  # not one tall strip of 40 rows
    assert _filled(view) > 0.5
    box = view.canvas.rect()
    # The largest a 5-pixel tile and its gap could be if the tiles covered the whole canvas:
    largest = 5 * (box.width() * box.height() / (view.mosaic.count * 6 * 6)) ** 0.5
    tile = view.canvas.map_from_image(QPointF(5, 5)) - view.canvas.map_from_image(QPointF(0, 0))
    assert tile.x() >= 0.7 * largest  # a strip gave 0.45


def _zoom_in(widget) -> None:
    """Two wheel notches away from the user over the widget's centre."""
    centre = QPointF(widget.rect().center())
    wheel = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, wheel)


def test_the_mouse_wheel_zooms_the_filters_and_fit_undoes_it(deep_filters, qtbot):
    view, snapshot = deep_filters
    before = view.canvas.view_rect()
    viewport = view.canvas
    centre = QPointF(viewport.rect().center())
    centre_pixel = view.canvas.map_to_image(centre)
    shown = view.canvas.grab().toImage()
    _zoom_in(viewport)
    zoomed = view.canvas.view_rect()
    assert zoomed.width() < 0.8 * before.width()
    assert view.canvas.map_to_image(centre) == centre_pixel  # zoomed around the mouse
    assert view.canvas.grab().toImage() != shown
    view.show_kernels(snapshot.kernels, snapshot.biases)  # a training update keeps the zoom
    assert view.canvas.view_rect() == zoomed
    view.fit_button.click()
    assert view.canvas.view_rect() == before
    assert view.canvas.grab().toImage() == shown


def test_a_drag_pans_the_zoomed_filters_without_opening_one(deep_filters, qtbot):
    view, _ = deep_filters
    canvas = view.canvas
    start = QPoint(canvas.width() // 2, canvas.height() // 2)
    QApplication.sendEvent(
        canvas,
        QWheelEvent(
            QPointF(start),
            QPointF(canvas.mapToGlobal(start)),
            QPoint(0, 0),
            QPoint(0, 360),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        ),
    )
    under = canvas.map_to_image(QPointF(start))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, start + QPoint(30, 20))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(30, 20))
    moved = canvas.map_to_image(QPointF(start + QPoint(30, 20)))
    assert (moved.x(), moved.y()) == pytest.approx((under.x(), under.y()))  # the mosaic followed the mouse
    assert view.detail is None  # a drag is not a click


def test_clicking_a_filter_shows_it_large_with_its_weights_and_bias(deep_filters, qtbot):
    view, snapshot = deep_filters
    weight, bias = snapshot.kernels[2], snapshot.biases[2]
    th, tw = view.mosaic.tile_shape
    cell = view.mosaic.cell_width + view.mosaic.gap
    row, col = divmod(3, view.mosaic.cols)  # filter 3, its input channel 1
    x, y = col * cell + (tw + 1) + tw / 2, row * (th + view.mosaic.gap) + th / 2
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=_view_point(view, x, y))
    detail = view.detail
    assert detail is not None and detail.isVisible() and detail.windowTitle() == "Layer 2 · filter 3"
    assert f"bias {bias[3]:+.4f}" in detail.summary.text()
    assert [caption.text() for caption in detail.captions] == [f"input channel {c}" for c in range(8)]
    table = detail.tables[1]
    assert (table.rowCount(), table.columnCount()) == (5, 5)
    assert [table.item(r, 4).text() for r in range(5)] == [cell_text(w) for w in weight[3, 1, :, 4]]
    assert table.viewport().width() >= table.columnWidth(0) * 5  # every column shown
    changed = {2: weight * 2}
    view.show_kernels(changed, {2: bias + 1})  # the next training update
    assert table.item(0, 0).text() == cell_text(2 * weight[3, 1, 0, 0])
    assert f"bias {bias[3] + 1:+.4f}" in detail.summary.text()
    view.show_kernels({2: weight[:2]}, {2: bias[:2]})  # an edit left two filters: filter 3 is gone
    assert not detail.isVisible()


# -- the layer list reads whole at 100% and 200% -----------------------------------------------


def cut_off_texts(window) -> list[str]:
    """The filter view's texts that its widgets show only in part, in the window as it is."""
    view = window.filters_view
    combo = view.layer_combo
    cut = [combo.itemText(i) for i in range(combo.count()) if combo.width() < combo.sizeHint().width()]
    for label in (view.layer_label, view.hover_label):
        if (
            label.height() < label.heightForWidth(label.width())
            or not label.visibleRegion().boundingRect().size() == label.size()
        ):
            cut.append(label.text())
    return cut


SCALED_WINDOW = """
import os, sys
sys.path[:0] = [{root!r}, {tests!r}]
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
from engine import load_dataset
from gui.main_window import MainWindow
from test_readable_views import cut_off_texts
window = MainWindow(dataset=load_dataset(limit=100))
window.show()
app.processEvents()
for index in range(window.filters_view.layer_combo.count()):
    window.filters_view.layer_combo.setCurrentIndex(index)
    app.processEvents()
    print(window.filters_view.layer_label.text(), "|", *cut_off_texts(window), sep="")
window.hide()
"""


def test_the_filter_layer_list_reads_whole_at_100_percent(window):
    combo = window.filters_view.layer_combo
    for index in range(combo.count()):
        combo.setCurrentIndex(index)
        QApplication.processEvents()
        assert cut_off_texts(window) == []


def test_the_filter_layer_list_reads_whole_at_200_percent(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2", "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # fresh preferences: the default layout
    script = SCALED_WINDOW.format(root=str(root), tests=str(Path(__file__).parent))
    lines = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert lines == ["20 filters × 1 input channel, 5×5|", "40 filters × 20 input channels, 5×5|"]


# -- feature maps: hover, colour bar, one map large --------------------------------------------


def _map_point(view, panel: int, channel: int, row: int, col: int) -> QPoint:
    """The point over pixel (row, col) of `channel` in map panel `panel`, in its canvas."""
    mosaic = view.mosaics[panel - 1]
    th, tw = mosaic.tile_shape
    cell_row, cell_col = divmod(channel, mosaic.cols)
    x, y = cell_col * (tw + mosaic.gap) + col + 0.5, cell_row * (th + mosaic.gap) + row + 0.5
    return view.panels[panel].canvas.map_from_image(QPointF(x, y)).toPoint()


def _maps(window):
    net, test = window.session.net, window.session.dataset.test
    return [m[0] for m in net.feature_maps(test.x[window.feature_maps_view.index][None])]


def test_hovering_a_feature_map_names_its_channel_and_value_under_the_mouse(window, qtbot):
    view = window.feature_maps_view
    maps = _maps(window)
    qtbot.mouseMove(view.panels[3].canvas, _map_point(view, 3, 7, 2, 5))  # layer 2 conv, 40×8×8
    assert (
        view.hover_label.text()
        == f"layer 2 conv, channel 7 at row 2, column 5: {value_text(maps[2][7, 2, 5])}"
    )
    window.settings_panel.seed_spin.setValue(window.settings_panel.seed_spin.value() + 1)
    window.run_bar.reset_button.click()  # new weights: the text reads the new maps
    new = _maps(window)[2][7, 2, 5]
    assert new != maps[2][7, 2, 5]
    assert view.hover_label.text().endswith(f": {value_text(new)}")
    qtbot.mouseMove(view.panels[5].canvas, _map_point(view, 5, 12, 0, 0))  # the dense layer's unit 12
    assert view.hover_label.text() == f"layer 4 dense, unit 12: {value_text(_maps(window)[4][12])}"
    qtbot.mouseMove(view.panels[0].canvas, view.panels[0].canvas.map_from_image(QPointF(9.5, 4.5)).toPoint())
    assert view.hover_label.text() == f"input at row 4, column 9: {value_text(view.shown_input[0, 4, 9])}"


def test_the_feature_maps_colour_bar_gives_the_hovered_layers_levels(window, qtbot):
    view = window.feature_maps_view
    maps = _maps(window)
    for panel, layer in ((1, "layer 0 conv"), (3, "layer 2 conv")):
        qtbot.mouseMove(view.panels[panel].canvas, _map_point(view, panel, 0, 0, 0))
        low, high = view.color_bar.levels()
        assert view.color_bar.label == layer
        drawn = theme.to_argb(view.mosaics[panel - 1].image, (low, high), theme.MAP_COLORMAP)
        np.testing.assert_array_equal(view.panels[panel].canvas.pixels(), drawn)  # on the bar's scale
        assert low <= maps[panel - 1].min() and maps[panel - 1].max() <= high
        assert high <= 4 / 3 * maps[panel - 1].max() * (1 + 1e-6)  # round, but close to the data
    assert view.color_bar.isVisible()


def test_the_wheel_zooms_a_feature_map_panel_and_fit_shows_every_map_whole(window, qtbot):
    view = window.feature_maps_view
    canvas = view.panels[1].canvas
    qtbot.waitUntil(lambda: canvas.width() > 60)
    whole = canvas.view_rect()
    _zoom_in(canvas)
    zoomed = canvas.view_rect()
    assert zoomed.width() < 0.8 * whole.width()
    assert view.panels[2].canvas.fitted  # the other panels as they were
    view.next_button.click()  # another image keeps the zoom
    assert canvas.view_rect() == zoomed
    view.fit_button.click()
    assert canvas.view_rect() == whole and all(panel.canvas.fitted for panel in view.panels)


def _rect_within(inner: QRectF, outer: QRectF) -> bool:
    return outer.contains(inner.topLeft()) and outer.contains(inner.bottomRight())


@pytest.mark.parametrize("scale", ["1", "2"])
def test_the_feature_maps_colour_bar_label_and_ticks_fit_the_bar(scale, tmp_path):
    """Its title is written upwards at its right, whole (pyqtgraph's axis cut it at the view's
    edge), at 100% and 200%, with every tick label, whatever the layer's levels."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale, "HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    script = COLOUR_BAR_FITS.format(root=str(root), tests=str(Path(__file__).parent))
    lines = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert lines == ["(0.0, 4.0) layer 0 conv True True", "(-250.0, 1500.0) layer 2 conv True True"]


COLOUR_BAR_FITS = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QApplication
app = QApplication([])
from test_readable_views import bar_fits
bar_fits()
"""


def bar_fits() -> None:
    """Print, for two layers' levels, whether the feature maps' colour bar's title and tick
    labels lie within it, in a window of the default layout."""
    from PySide6.QtCore import QSettings

    from engine.data import load_dataset
    from gui import window_layout
    from gui.main_window import MainWindow

    app = QApplication.instance()
    settings = QSettings(str(Path(os.environ["HOME"]) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, dataset=load_dataset())
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    window_layout.build_after_show(window)
    app.processEvents()
    view = window.feature_maps_view
    for levels, panel in (((0.0, 4.0), 1), ((-250.0, 1500.0), 3)):
        view._bar_panel = panel
        view.levels[panel - 1] = levels
        view._show_bar()
        app.processEvents()
        bar = view.color_bar
        inside = QRectF(bar.rect())
        metrics = bar.fontMetrics()
        labels = [
            QRectF(bar.bar_rect().right(), 0, 4 + 2 + metrics.horizontalAdvance(text), 1)
            for _, text in bar.shown_ticks()
        ]
        print(
            bar.levels(),
            bar.label,
            _rect_within(bar.label_rect(), inside),
            all(r.right() <= bar.label_rect().left() for r in labels),
        )
    window.trainer.shutdown(2000)


def test_a_snapshot_repaints_the_maps_and_probabilities_alone_without_pyqtgraph(window, qtbot):
    """A run sends new maps twice a second: they repaint each layer's canvas and the bars, drawn
    by plain Qt (no pyqtgraph view in the panels), not the input (the same image) nor the rest."""
    from PySide6.QtWidgets import QGraphicsView

    view = window.feature_maps_view
    qtbot.waitUntil(lambda: view.graphics is not None)
    assert view.graphics.findChildren(QGraphicsView) == []
    qtbot.waitUntil(lambda: window.loss_plot is not None)
    painted = []

    class Count(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(watched)
            return False

    counter = Count()
    widgets = window.findChildren(QWidget)
    for widget in widgets:
        widget.installEventFilter(counter)
    for _ in range(100):  # until the window's start has painted all it will
        painted.clear()
        qtbot.wait(20)
        if not painted:
            break
    levels = list(view.levels)
    maps = [m * 0.999 for m in view.shown_maps[:-1]] + [view.shown_maps[-1][::-1].copy()]
    view.show_maps(view.index, maps)
    QApplication.processEvents()
    for widget in widgets:
        if shiboken6.isValid(widget):
            widget.removeEventFilter(counter)
    assert view.levels == levels  # new values, the same round levels: the colour bar stays
    drawing = {panel.canvas for panel in view.panels[1:]} | {view.probabilities}
    behind = {*view.panels, view.graphics}  # what shows through the gaps between the tiles
    assert drawing <= set(painted) <= drawing | behind
    assert len([w for w in painted if w in drawing]) == len(drawing)  # once each
    drawn = theme.to_argb(view.mosaics[0].image, view.levels[0], theme.MAP_COLORMAP)
    np.testing.assert_array_equal(view.panels[1].canvas.pixels(), drawn)


def test_the_probability_bars_are_drawn_in_their_colours(window, qtbot):
    view = window.feature_maps_view
    qtbot.waitUntil(lambda: view.graphics is not None)
    view.show_index(3)
    chart = view.probabilities
    probs = view.shown_maps[-1]
    rects = chart.bar_rects()
    assert chart.classes == list(range(10))
    heights = np.array([r.height() for r in rects])
    np.testing.assert_allclose(heights / heights.max(), probs / probs.max(), rtol=1e-5)
    true, predicted = int(window.session.dataset.test.y[3]), int(np.argmax(probs))
    colour = theme.CORRECT if predicted == true else theme.WRONG
    image = chart.grab().toImage()
    ratio = image.devicePixelRatio()
    at = rects[predicted].center() * ratio
    assert image.pixelColor(at.toPoint()) == QColor(colour)
    others = [c for c in range(10) if c not in (predicted, true) and rects[c].height() > 4]
    assert image.pixelColor((rects[others[0]].center() * ratio).toPoint()) == QColor(theme.NEUTRAL)
    edge = QPointF(rects[true].center().x(), rects[true].top()) * ratio
    assert image.pixelColor(edge.toPoint()) == QColor(theme.FOREGROUND)  # the true class outlined


def test_clicking_a_feature_map_opens_it_large_with_its_values(window, qtbot):
    view = window.feature_maps_view
    maps = _maps(window)
    qtbot.mouseClick(view.panels[1].canvas, Qt.MouseButton.LeftButton, pos=_map_point(view, 1, 6, 3, 3))
    detail = view.detail
    assert detail is not None and detail.isVisible()
    assert detail.windowTitle() == "layer 0 conv, channel 6 (test image 1)"
    np.testing.assert_array_equal(detail.values, maps[0][6])
    assert detail.color_bar.levels() == view.levels[0]
    qtbot.waitExposed(detail)
    row, col = np.unravel_index(np.argmax(maps[0][6]), maps[0][6].shape)
    where = detail.canvas.map_from_image(QPointF(col + 0.5, row + 0.5))
    brightest = detail.canvas.grab().toImage().pixelColor(where.toPoint())
    drawn = theme.to_rgba(maps[0][6][row, col, None, None], view.levels[0], theme.MAP_COLORMAP)
    assert brightest.getRgb()[:3] == tuple(drawn[0, 0, :3])  # with the layer's levels and map
    # QTest's moves reach the window under the cursor: offscreen, the main window, not the dialog
    viewport = detail.canvas
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(where),
        QPointF(viewport.mapToGlobal(where)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)
    assert detail.hover_label.text() == f"row {row}, column {col}: {value_text(maps[0][6, row, col])}"
    view.next_button.click()  # another test image: the large map follows
    assert detail.windowTitle() == "layer 0 conv, channel 6 (test image 2)"
    np.testing.assert_array_equal(detail.values, _maps(window)[0][6])


def _python_called_while_painting(widgets) -> list[str]:
    """The Python functions Qt calls while it repaints `widgets`, at once (no other widget paints)."""
    called = []
    here = sys._getframe()

    def profile(frame, event, _arg):
        if event == "call" and frame.f_back is here:  # called from inside repaint()
            called.append(frame.f_code.co_qualname)

    sys.setprofile(profile)
    try:
        for widget in widgets:
            widget.repaint()
    finally:
        sys.setprofile(None)
    return called


def test_a_filters_numbers_paint_without_python(deep_filters, qtbot):
    """The training thread needs the GIL: an open filter's tables are painted by Qt alone."""
    view, _ = deep_filters
    view.open_filter(2, 0)
    qtbot.waitExposed(view.detail)
    QApplication.processEvents()
    tables = [table.viewport() for table in view.detail.tables]
    assert all(table.isVisible() for table in tables)
    assert _python_called_while_painting(tables) == []

    class PaintedInPython(QWidget):  # the control: the probe sees a paint that runs Python
        def paintEvent(self, event):
            QPainter(self).fillRect(self.rect(), Qt.GlobalColor.white)

    control = PaintedInPython(view.detail)
    control.resize(20, 20)
    control.show()
    QApplication.processEvents()
    assert "test_a_filters_numbers_paint_without_python.<locals>.PaintedInPython.paintEvent" in (
        _python_called_while_painting([control])
    )


def test_a_new_network_replaces_the_feature_map_panels_at_once(window, qtbot):
    """Another kernel size: the panels show the new layers' shapes alone, before the old panels
    are deleted (the screenshots showed both layers' titles over each other)."""
    from gui.feature_maps_view import MapPanel

    view = window.feature_maps_view
    qtbot.waitUntil(lambda: view.graphics is not None)
    spec = dict(window.session.spec)
    spec["layers"] = [dict(layer) for layer in spec["layers"]]
    spec["layers"][0]["kernel"] = 3
    window.session.edit(spec, list(window.session.layer_ids))
    QApplication.processEvents()  # the new panels shown; the old ones not yet deleted
    shown = [panel.title.text() for panel in view.graphics.findChildren(MapPanel) if panel.isVisible()]
    layers = ["0 conv 20×26×26", "1 pool 20×13×13", "2 conv 40×9×9", "3 pool 40×4×4", "4 dense 100"]
    assert shown == ["input", *layers]
    assert [panel.title.text() for panel in view.panels] == shown


def test_hovering_a_probability_bar_names_its_class_and_probability(window, qtbot):
    """Where the names are thinned out (many classes), the mouse still reads each bar."""
    view = window.feature_maps_view
    qtbot.waitUntil(lambda: view.graphics is not None)
    chart = view.probabilities
    bar = chart.bar_rects()[7]
    qtbot.mouseMove(chart, bar.center().toPoint())
    probs = view.shown_maps[-1]
    assert view.hover_label.text() == f"class 7: probability {probs[7]:.3g}"
    changed = probs.copy()
    changed[7], changed[0] = 0.5, changed[0] + changed[7] - 0.5  # a run's next snapshot
    view.show_maps(view.index, [*view.shown_maps[:-1], changed])
    assert view.hover_label.text() == "class 7: probability 0.5"
