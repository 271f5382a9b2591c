"""How much CPU time the GUI thread spends holding the GIL while a spinning Python thread wants it.

The spinning thread never sleeps except to wait for the GIL. Between two of its turns it reads
its own CPU time, its time waiting in the run queue (the kernel's /proc/.../schedstat) and the
GUI thread's CPU time: where it was neither running nor queued it waited for the GIL, and the GUI
thread's CPU time over that wait is work done holding the GIL. Both are CPU times, so a busy
machine stretches the waits without changing the figure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer

#: A turn longer than this that the thread spent neither running nor queued was a GIL wait.
SLEPT_S = 0.5e-3


def run_event_loop(ms: int) -> None:
    """Qt's own loop, as the app runs it: a Python polling loop would hold the GIL itself."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def gil_held(action: Callable[[], None], times: int = 1, ms: int = 300) -> float:
    """CPU seconds this (the GUI) thread held the GIL that a spinning thread waited for, while
    `action` ran `times` times, each followed by `ms` ms of Qt's event loop."""
    gui_clock = time.pthread_getcpuclockid(threading.get_ident())
    held: list[float] = [0.0]
    started, stop = threading.Event(), threading.Event()

    def spin() -> None:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat", "rb", buffering=0) as stat:

            def clocks() -> tuple[float, float, float, float]:
                stat.seek(0)
                queued = int(stat.read().split()[1]) / 1e9
                return time.monotonic(), time.thread_time(), queued, time.clock_gettime(gui_clock)

            before = clocks()
            started.set()
            while not stop.is_set():
                now = clocks()
                wall, running, queued, gui = (a - b for a, b in zip(now, before, strict=True))
                if wall - running - queued > SLEPT_S:
                    held[0] += gui
                before = now

    thread = threading.Thread(target=spin)
    thread.start()
    started.wait()  # the loop must not run before the spinning thread has read its clocks
    for _ in range(times):
        action()
        run_event_loop(ms)
    stop.set()
    thread.join()
    return held[0]
