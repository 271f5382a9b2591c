"""The drawing pad and "where it looks", driven as a user would: draw a stroke and see the
prediction change; undo and clear; the maps computed on a pool thread and shown over the input."""

import threading

import numpy as np
from PySide6.QtCore import QPoint, Qt

from engine.network import Network
from gui.draw_panel import DrawPanel
from gui.saliency_view import SaliencyView

SPEC = {
    "input": [1, 28, 28],
    "classes": 3,
    "layers": [
        {"type": "conv", "filters": 2, "kernel": 5, "activation": "relu"},
        {"type": "pool", "mode": "max", "size": 2},
        {"type": "softmax"},
    ],
}


def _network(device="cpu") -> Network:
    net = Network(SPEC, device=device)
    rng = np.random.default_rng(0)
    net.load_state_dict({k: rng.normal(0, 0.5, v.shape) for k, v in net.state_dict().items()})
    return net


def _stroke(qtbot, pad, points):
    first, *rest = (QPoint(*p) for p in points)
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=first)
    for p in rest:
        qtbot.mouseMove(pad, p)
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=rest[-1])


def _draw(qtbot, panel, points):
    """A stroke on the panel's pad, and the input prepared from it (after the pad's changes
    were gathered)."""
    with qtbot.waitSignal(panel.inputChanged, timeout=10000):
        _stroke(qtbot, panel.pad, points)


def test_a_stroke_changes_what_the_network_sees(qtbot, shown):
    panel = shown(DrawPanel(), 700, 420)
    panel.set_network(_network(), None, ("a", "b", "c"))
    assert not panel.image.any()
    _draw(qtbot, panel, [(40, 40), (80, 120), (120, 200), (160, 240)])
    assert panel.pad.ink().max() == 1.0
    assert panel.image.any() and panel.image.shape == (1, 28, 28)
    shown_values = panel.seen_grid.values
    np.testing.assert_array_equal(shown_values, panel.image[0])
    with qtbot.waitSignal(panel.inputChanged, timeout=10000):
        panel.undo_button.click()
    assert not panel.image.any()
    panel.brush_spin.setValue(40)
    _draw(qtbot, panel, [(30, 30), (200, 30)])
    assert panel.pad.brush == 40
    panel.clear_button.click()
    assert not panel.pad.ink().any()
    panel.show_prediction(np.array([0.2, 0.7, 0.1]))
    assert panel.prediction_label.text() == "Prediction: b    (b 70%, a 20%, c 10%)"


def test_a_stroke_is_prepared_once_however_many_moves_it_has(qtbot, shown):
    panel = shown(DrawPanel(), 700, 420)
    panel.set_network(_network(), None, ())
    prepared = []
    panel.inputChanged.connect(lambda: prepared.append(panel.image))
    for _ in range(50):  # fifty changes of the ink before the event loop runs again
        panel.pad.drawn.emit()
    qtbot.waitUntil(lambda: not panel.update_timer.isActive(), timeout=10000)
    qtbot.wait(10)
    assert len(prepared) == 1


def test_an_opened_image_is_the_input(qtbot, shown, tmp_path):
    from PIL import Image

    pixels = np.zeros((56, 56), dtype=np.uint8)
    pixels[10:40, 20:30] = 255
    Image.fromarray(pixels).save(tmp_path / "bar.png")
    panel = shown(DrawPanel(), 700, 420)
    panel.set_network(_network(), None, ())
    panel.open_image(str(tmp_path / "bar.png"))
    assert panel.image[0, 6:19, 11:14].min() == 1.0 and panel.image[0, :4].max() == 0.0
    panel.open_image(str(tmp_path / "missing.png"))
    assert panel.prediction_label.text() == f"Could not open {tmp_path / 'missing.png'}: no such image"
    (tmp_path / "notes.png").write_text("label,pixels\n")
    panel.open_image(str(tmp_path / "notes.png"))  # named once, with the cause in words
    said = panel.prediction_label.text()
    assert said == f"Could not open {tmp_path / 'notes.png'}: not an image Pillow can read"


def test_saliency_and_occlusion_are_computed_off_the_gui_thread_and_shown(qtbot, shown, monkeypatch, device):
    net = _network(device)
    threads = []
    real = net.input_gradient

    def recording(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(net, "input_gradient", recording)
    view = shown(SaliencyView(), 600, 400)
    image = np.random.default_rng(1).random((1, 28, 28), dtype=np.float32)
    view.set_input(net, image, 3)
    qtbot.waitUntil(lambda: view.shown is not None, timeout=20000)
    assert threads == [False]
    saliency, drops, cls = view.shown
    assert cls == int(net.predict(image[None])[0])
    np.testing.assert_allclose(
        saliency, net.backend.to_host(real(image[None], cls))[0].max(axis=0), rtol=1e-6
    )
    assert drops.shape == (28, 28)
    assert not view.saliency_label.pixmap().isNull()
    view.class_spin.setValue(2)
    qtbot.waitUntil(lambda: view.shown[2] == 2, timeout=20000)


def test_a_colour_network_gets_a_colour_brush_and_sees_the_colours(qtbot, shown, monkeypatch):
    spec = {**SPEC, "input": [3, 16, 16]}
    net = Network(spec, device="cpu")
    panel = shown(DrawPanel(), 700, 420)
    panel.set_network(net, None, ())
    assert panel.colour_combo.isVisible() and not panel.seen_grid.isVisible()
    panel.colour_combo.setCurrentIndex(panel.colour_combo.findText("red"))
    panel.colour_combo.activated.emit(panel.colour_combo.currentIndex())
    panel.brush_spin.setValue(50)
    _draw(qtbot, panel, [(40, 140), (240, 140)])
    assert panel.image.shape == (3, 16, 16)
    red, green, blue = panel.image
    assert red.max() > 0.99 and green.max() == 0.0 and blue.max() == 0.0
    picture = panel.seen_colour.pixmap().toImage()
    row, col = np.unravel_index(red.argmax(), red.shape)
    block = picture.width() / 16
    reddest = picture.pixelColor(int((col + 0.5) * block), int((row + 0.5) * block))
    assert (reddest.red(), reddest.green(), reddest.blue()) == (255, 0, 0)
    panel.colour_combo.setCurrentIndex(panel.colour_combo.findText("green"))
    panel.colour_combo.activated.emit(panel.colour_combo.currentIndex())
    _draw(qtbot, panel, [(40, 240), (240, 240)])
    assert panel.image[1].max() > 0.99  # full strength, as red is
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QColorDialog

    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor(0, 0, 255))
    panel.colour_combo.setCurrentIndex(panel.colour_combo.findText("Other…"))
    panel.colour_combo.activated.emit(panel.colour_combo.currentIndex())
    _draw(qtbot, panel, [(140, 40), (140, 240)])
    assert panel.image[2].max() > 0.99
    panel.set_network(_network(), None, ())  # a grey network: white ink, grey input
    assert not panel.colour_combo.isVisible() and panel.seen_grid.isVisible()
    assert panel.pad.colour == QColor("white") and panel.image.shape == (1, 28, 28)
