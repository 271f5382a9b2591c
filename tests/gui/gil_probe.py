"""How much CPU time the GUI thread spends holding the GIL while Qt's event loop works.

The GUI thread holds the GIL exactly while Python runs in it: a handler Qt calls (a paintEvent
or eventFilter override, a slot, a timer) or an action the test calls itself. Their CPU time,
counted through a profile hook, is the figure. CPU time, unlike the waits of another thread,
does not grow when the machine is busy (timing such waits failed under `stress --cpu 2`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer


def run_event_loop(ms: int) -> None:
    """Qt's own loop, as the app runs it: a Python polling loop would hold the GIL itself."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def gil_held(action: Callable[[], None], times: int = 1, ms: int = 300) -> float:
    """CPU seconds this (the GUI) thread ran Python, and so held the GIL, while `action` ran
    `times` times, each followed by `ms` ms of Qt's event loop."""
    held = 0.0
    started: dict[FrameType, float] = {}

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal held
        if event == "call" and frame.f_back is not None and frame.f_back.f_code is run_event_loop.__code__:
            started[frame] = time.thread_time()  # Qt called Python from inside the loop
        elif event == "return" and frame in started:
            held += time.thread_time() - started.pop(frame)

    sys.setprofile(profile)
    try:
        for _ in range(times):
            begin = time.thread_time()
            action()
            held += time.thread_time() - begin
            run_event_loop(ms)
    finally:
        sys.setprofile(None)
    return held
