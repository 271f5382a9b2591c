"""GUI tests run offscreen, on a small slice of the built-in data, with throwaway preferences."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSettings

from engine import Dataset, load_dataset
from engine.data import Split


@pytest.fixture(scope="session")
def mnist():
    return load_dataset()


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
