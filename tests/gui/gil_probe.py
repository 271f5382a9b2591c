"""How long a spinning Python thread goes without the GIL while Qt's event loop works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEventLoop, QTimer


def run_event_loop(ms: int) -> None:
    """Qt's own loop, as the app runs it: a Python polling loop would hold the GIL itself."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def stalled(ms: int, action: Callable[[], None], every_ms: int = 0) -> float:
    """Seconds the spinning thread spent in waits over a millisecond while the loop ran `ms` ms:
    `action` runs once at the start, or every `every_ms` ms when that is given."""
    stamps: list[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=spin)
    thread.start()
    timer = QTimer()
    if every_ms:
        timer.setInterval(every_ms)
        timer.timeout.connect(action)
        timer.start()
    else:
        action()
    run_event_loop(ms)
    timer.stop()
    stop.set()
    thread.join()
    gaps = np.diff(stamps)
    return float(gaps[gaps > 1e-3].sum())
