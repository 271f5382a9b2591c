"""GUI tests run offscreen, on a small slice of the built-in data, with throwaway preferences."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QEvent, QSettings
from PySide6.QtWidgets import QApplication

from engine import Dataset
from engine.data import Split


@pytest.fixture
def small_data(mnist) -> Dataset:
    """128 training images (4 batches of 32) and 100 test images: an epoch takes well under a second."""
    return Dataset(
        name="mnist-small",
        train=Split(mnist.train.x[:128], mnist.train.y[:128]),
        test=Split(mnist.test.x[:100], mnist.test.y[:100]),
        class_names=mnist.class_names,
        normalization=None,
    )


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "convscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, small_data):
    from gui.main_window import MainWindow

    win = MainWindow(settings=settings, dataset=small_data)
    qtbot.addWidget(win)
    win.settings_panel.device_combo.setCurrentIndex(win.settings_panel.device_combo.findData("cpu"))
    win.show()
    yield win
    win.trainer.shutdown(2000)


@pytest.fixture
def shown(qtbot):
    """Shows a widget (500×300 unless told) and keeps it referenced until qtbot has closed it,
    then deletes it: qtbot holds widgets weakly, and a parentless view that the garbage
    collector frees while Qt is still painting it takes the process down (one left to the
    interpreter's exit warns from pyqtgraph's half-torn-down items)."""
    kept = []

    def show(widget, width: int = 500, height: int = 300):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        kept.append(widget)
        return widget

    yield show
    for widget in kept:  # qtbot closed them before this teardown
        widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
