"""Cycles are collected on the GUI thread only (gui.main_thread_gc), however much another thread
allocates."""

from __future__ import annotations

import gc
import threading

from gui.main_thread_gc import MainThreadCollector


class _Cycle:
    collected_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.collected_on.append(threading.current_thread().name)


def test_a_cycle_is_collected_on_the_gui_thread_when_another_thread_allocates(
    qtbot, cycles_collected_on_the_gui_thread
):
    assert not gc.isenabled()
    _Cycle.collected_on.clear()
    _Cycle()  # unreachable at once, freed only by the cycle collector

    kept = []

    def allocate() -> None:  # far past generation 0's threshold: it would have collected here
        kept.append([[] for _ in range(200_000)])

    worker = threading.Thread(target=allocate, name="job")
    worker.start()
    worker.join()
    assert _Cycle.collected_on == []
    qtbot.waitUntil(lambda: bool(_Cycle.collected_on), timeout=10_000)
    assert _Cycle.collected_on == [threading.main_thread().name]


def test_stopping_hands_collection_back_to_python(qapp):
    collector = MainThreadCollector(qapp)
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()
    gc.disable()  # the package's own collector is still running
    collector.deleteLater()
