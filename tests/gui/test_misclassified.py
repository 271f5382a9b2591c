"""The feature maps' "misclassified only" list for the idle network: worked out on a pool thread
while the window goes on (as Evaluate is), from the latest scores without a pass when they are
current, and stepping through exactly the images the network gets wrong."""

import threading

import numpy as np
from PySide6.QtCore import QTimer
from test_window import predictions, start, wait_until_finished

from engine import Network


def _held_passes(monkeypatch):
    """Each pass over the test split records whether it ran on the GUI thread; one on another
    thread waits until `release` is set."""
    release, threads = threading.Event(), []
    original = Network.probabilities_and_loss

    def held(net, *args, **kwargs):
        on_gui = threading.current_thread() is threading.main_thread()
        threads.append(on_gui)
        if not on_gui:
            release.wait(60)
        return original(net, *args, **kwargs)

    monkeypatch.setattr(Network, "probabilities_and_loss", held)
    return release, threads


def test_ticking_the_list_works_it_out_off_the_gui_thread_while_the_window_responds(
    qtbot, window, monkeypatch
):
    view = window.feature_maps_view
    release, threads = _held_passes(monkeypatch)
    ticks = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    view.misclassified_check.click()
    assert view.misclassified_check.isChecked() and window.misclassified.scoring
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=30_000)  # the event loop runs while the pass waits
    assert threads == [False] and view.misclassified is None
    release.set()
    qtbot.waitUntil(lambda: view.misclassified is not None, timeout=30_000)
    timer.stop()
    wrong = np.flatnonzero(predictions(window).argmax(axis=1) != window.session.dataset.test.y)
    assert 0 < len(wrong) < 100
    np.testing.assert_array_equal(view.misclassified, wrong)
    assert view.status_label.text().endswith(f"{len(wrong)} of 100 misclassified")
    assert window.session.scored is not None  # the pass's scores are the latest: no second pass
    shown = []
    for _ in range(len(wrong)):  # the arrows step through exactly the mistakes, in order
        view.next_button.click()
        shown.append(view.index)
    assert sorted(shown) == list(wrong)


def test_after_a_run_the_list_comes_from_its_last_epochs_scores_without_a_pass(qtbot, window, monkeypatch):
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    release, threads = _held_passes(monkeypatch)
    release.set()
    window.feature_maps_view.misclassified_check.click()
    assert threads == [] and not window.misclassified.scoring
    last = window.session.scored.evaluation
    np.testing.assert_array_equal(
        window.feature_maps_view.misclassified, np.flatnonzero(last.predicted != last.y)
    )


def test_weights_changed_during_the_pass_are_scored_again(qtbot, window, monkeypatch):
    view = window.feature_maps_view
    release, threads = _held_passes(monkeypatch)
    view.misclassified_check.click()
    window.settings_panel.seed_spin.setValue(window.settings_panel.seed_spin.value() + 1)
    window.run_bar.reset_button.click()  # new weights while the first pass waits
    release.set()
    qtbot.waitUntil(lambda: view.misclassified is not None, timeout=30_000)
    assert threads == [False, False]  # the stale pass, then one of the new weights
    wrong = np.flatnonzero(predictions(window).argmax(axis=1) != window.session.dataset.test.y)
    np.testing.assert_array_equal(view.misclassified, wrong)
