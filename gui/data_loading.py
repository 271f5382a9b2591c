"""Loading a data set off the GUI thread: :func:`gui.session.load_data` runs on a thread of its own
while a progress dialog counts the images (or CIFAR's files) read and offers Cancel, so the window
keeps drawing through a folder of thousands of images. The session itself is only changed on the
GUI thread, with the loaded data set, once loading has finished."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from gui.naming import named
from gui.session import LoadOptions, load_data

#: How many times the progress dialog moves over a whole load.
STEPS = 100
_NOTHING = object()


class _Job(QObject):
    """Runs on the loading thread; ends with `done` carrying the data set or the exception."""

    progressed = Signal(int, int)
    done = Signal(object)

    def __init__(self, source: str, options: LoadOptions):
        super().__init__()
        self.source, self.options = source, options
        self.cancel_requested = threading.Event()

    def _progress(self, done: int, total: int) -> None:
        """Every hundredth of the way and the end: a signal per image of thousands would queue
        more repaints than the eye sees."""
        if done == total or done * STEPS // total != (done - 1) * STEPS // total:
            self.progressed.emit(done, total)

    @Slot()
    def run(self) -> None:
        cancelled = self.cancel_requested.is_set
        try:
            result: object = load_data(self.source, self.options, self._progress, cancelled)
        except Exception as exc:  # reported on the GUI thread, never lost with the thread
            result = exc
        self.done.emit(result)


class DataLoader(QObject):
    """One load at a time, with its progress dialog. `finished(source, result)` comes on the GUI
    thread: the Dataset, the exception that stopped loading, or None once the user cancelled
    (whatever the thread still produced is dropped, so the data set in use stays)."""

    finished = Signal(str, object)
    #: Images (or CIFAR files) read so far, and in all.
    progressed = Signal(int, int)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._parent = parent
        self._thread: QThread | None = None
        self._job: _Job | None = None
        self.dialog: QProgressDialog | None = None
        self._name = ""
        self._in_set_value = False
        #: The load's result when it ended inside the dialog's setValue, until that returns.
        self._ended: object = _NOTHING

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, source: str, options: LoadOptions, name: str) -> None:
        if self.running:
            raise RuntimeError("a data set is already loading")
        dialog = named(
            QProgressDialog(f"Loading {name}…", "Cancel", 0, 0, self._parent),
            "loadingDialog", "Reading the data set; Cancel keeps the one in use",
        )
        dialog.setWindowTitle("Opening a data set")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self.cancel)
        self.dialog, self._name = dialog, name
        self._job, self._thread = _Job(source, options), QThread(self)
        self._job.moveToThread(self._thread)
        self._job.progressed.connect(self._progressed)
        self._job.done.connect(self._done)
        self._thread.started.connect(self._job.run)
        self._thread.start()
        dialog.show()

    def cancel(self) -> None:
        """Stop reading at the next image; the window keeps its data set."""
        if self._job is not None:
            self._job.cancel_requested.set()

    def shutdown(self) -> None:
        """Cancel and wait for the thread (the window is closing)."""
        if self._thread is not None:
            self.cancel()
            self._thread.quit()
            self._thread.wait()

    def _progressed(self, done: int, total: int) -> None:
        self.progressed.emit(done, total)
        dialog = self.dialog
        if dialog is None or self._in_set_value:
            return  # a report handled inside the dialog's setValue: the dialog shows the next
        dialog.setLabelText(f"Loading {self._name}: {done:,} of {total:,} read…")
        dialog.setMaximum(total)
        # A modal dialog's setValue handles the events waiting, the load's end among them: that
        # end waits until setValue has returned, since closing and deleting the dialog inside
        # its own setValue crashes the process.
        self._in_set_value = True
        try:
            dialog.setValue(done)
        finally:
            self._in_set_value = False
        result, self._ended = self._ended, _NOTHING
        if result is not _NOTHING:
            self._done(result)

    def _done(self, result: object) -> None:
        if self._in_set_value:
            self._ended = result
            return
        job, thread, dialog = self._job, self._thread, self.dialog
        if job is None or thread is None or dialog is None:
            return
        self._job = self._thread = self.dialog = None
        cancelled = job.cancel_requested.is_set()
        dialog.canceled.disconnect(self.cancel)
        dialog.close()
        dialog.deleteLater()
        thread.quit()
        thread.wait()
        self.finished.emit(job.source, None if cancelled else result)
