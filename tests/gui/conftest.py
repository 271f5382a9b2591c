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


class Answers:
    """Answers the window's questions (gui.confirm.ask) in place of a modal dialog: the next of
    `queued`, else the answer that loses nothing a test relies on (discard, else continue).
    `asked` holds each question's (title, text)."""

    def __init__(self) -> None:
        self.queued: list[str] = []
        self.asked: list[tuple[str, str]] = []

    def __call__(self, parent, title: str, text: str, choices) -> str:
        self.asked.append((title, text))
        if self.queued:
            return self.queued.pop(0)
        answers = [answer for answer, _ in choices]
        return "discard" if "discard" in answers else "continue"


@pytest.fixture(scope="package", autouse=True)
def cycles_collected_on_the_gui_thread(qapp):
    """As the application does (gui.app): a job thread's collector must not delete an earlier
    test's window."""
    from gui.main_thread_gc import MainThreadCollector

    collector = MainThreadCollector(qapp)
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def answers(monkeypatch) -> Answers:
    from gui import confirm

    answers = Answers()
    monkeypatch.setattr(confirm, "ask", answers)
    return answers


@pytest.fixture(autouse=True)
def every_mouse_move():
    """pyqtgraph's scenes drop a mouse move that comes within 10 ms of the last one (its
    `mouseRateLimit`): a test's moves come faster than a hand's, and one dropped left a hover
    test reading the previous place's text whenever the test ran quickly enough."""
    import pyqtgraph as pg

    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOptions(mouseRateLimit=0)
    yield
    pg.setConfigOptions(mouseRateLimit=limit)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "convscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, small_data):
    from gui.main_window import MainWindow

    win = MainWindow(settings=settings, dataset=small_data)
    qtbot.addWidget(win)
    win.resize(1440, 900)  # larger than the offscreen screen, which a first start's size fits
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
