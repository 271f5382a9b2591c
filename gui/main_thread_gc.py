"""Python's cycle collector run on the window's thread only.

Left to itself, the collector runs in whichever thread allocates past its threshold: a training,
saliency or data-loading thread then deletes Qt objects (a closed window's actions, a dropped
view) from outside the GUI thread, which Qt does not allow. The test suite hung that way once,
with a job thread's collector deleting one window's menus while the GUI thread's deleted another's
actions. So automatic collection is switched off, and a timer on the GUI thread collects by the
same thresholds, as pyqtgraph's GarbageCollector does (this one is made before pyqtgraph is
imported)."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks at the collector's counts.
INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """While it lives (it is parented to the application), cycles are collected on its thread."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(INTERVAL_MS)

    def collect(self) -> None:
        """Each generation past its threshold, as the automatic collector would have."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self._threshold[generation]:
                break
            gc.collect(generation)

    def stop(self) -> None:
        """Hand collection back to Python (the tests' GUI part ends; the engine's tests follow)."""
        self._timer.stop()
        gc.enable()
