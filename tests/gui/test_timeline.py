"""The timeline under the views, driven as a user would: scrub to a snapshot and the filter and
feature-map views show the network as it was then, and say so; play; back to live; a run's live
snapshots wait while a snapshot is shown; a weight file's time-lapse comes back when opened."""

import numpy as np
from PySide6.QtCore import Qt
from test_window import start, wait_until_finished

from gui.mosaic import filter_mosaic
from gui.timeline_bar import LIVE, NONE_YET


def trained(window, qtbot, epochs=1):
    window.feature_maps_view.show_index(7)
    start(window, epochs=epochs)
    wait_until_finished(qtbot, window)
    return window.session.timelapse.frames


def shows_filters(window, filters):
    view = window.filters_view
    drawn = filter_mosaic(filters, False, view._columns(filters.shape, False))[0].image
    return view.layer_combo.currentData() == 0 and np.array_equal(view.mosaic.image, drawn, equal_nan=True)


def shows_maps(window, maps):
    return all(np.array_equal(a, b) for a, b in zip(window.feature_maps_view.shown_maps, maps, strict=True))


def test_scrubbing_shows_each_snapshots_filters_and_maps_and_says_so(window, qtbot):
    timeline = window.timeline
    assert not timeline.slider.isEnabled() and timeline.label.text() == NONE_YET
    frames = trained(window, qtbot)
    assert [f.position for f in frames] == [0, 0.25, 0.5, 1]
    assert timeline.live and timeline.slider.maximum() == 4 == timeline.slider.value()
    assert timeline.label.text() == LIVE and not timeline.live_button.isEnabled()
    window.feature_maps_view.show_index(3)  # the time-lapse follows the image it began with
    timeline.slider.setFocus()
    qtbot.keyClick(timeline.slider, Qt.Key.Key_Home)
    assert timeline.frame == 0 and shows_filters(window, frames[0].filters)
    assert shows_maps(window, frames[0].maps)
    assert window.feature_maps_view.index == 7
    assert timeline.label.text() == "Snapshot 1 of 4: before training (time-lapse)"
    qtbot.keyClick(timeline.slider, Qt.Key.Key_Right)
    assert timeline.frame == 1 and shows_filters(window, frames[1].filters)
    assert shows_maps(window, frames[1].maps)
    assert not shows_filters(window, frames[0].filters)
    assert timeline.label.text() == "Snapshot 2 of 4: 25% into epoch 1 of 1 (time-lapse)"
    qtbot.keyClick(timeline.slider, Qt.Key.Key_Right)
    qtbot.keyClick(timeline.slider, Qt.Key.Key_Right)
    epoch = window.session.history.epochs[-1]
    assert timeline.label.text() == (
        f"Snapshot 4 of 4: epoch 1 of 1 (time-lapse) · validation accuracy {epoch.val_acc:.1%}, "
        f"loss {epoch.val_loss:.4f}"
    )
    qtbot.keyClick(timeline.slider, Qt.Key.Key_Home)
    assert timeline.live_button.isEnabled()
    qtbot.mouseClick(timeline.live_button, Qt.MouseButton.LeftButton)
    assert timeline.live and timeline.slider.value() == 4 and timeline.label.text() == LIVE
    now = window.session.net.state_dict()["layers.0.weight"]
    assert shows_filters(window, now) and not shows_filters(window, frames[0].filters)


def test_play_steps_through_every_snapshot_and_stops_at_the_last(window, qtbot):
    frames = trained(window, qtbot)
    timeline = window.timeline
    shown, show = [], window.filters_view.show_kernels
    window.filters_view.show_kernels = lambda kernels: (shown.append(kernels[0]), show(kernels))
    qtbot.mouseClick(timeline.play_button, Qt.MouseButton.LeftButton)
    assert timeline.playing and timeline.frame == 0
    qtbot.waitUntil(lambda: not timeline.playing, timeout=10_000)
    assert timeline.frame == 3 and timeline.slider.value() == 3 and shows_filters(window, frames[3].filters)
    assert len(shown) == 4 and all(a is f.filters for a, f in zip(shown, frames, strict=True))


def test_picking_another_test_image_goes_back_to_live(window, qtbot):
    trained(window, qtbot)
    timeline = window.timeline
    timeline.slider.setValue(0)
    assert not timeline.live
    window.feature_maps_view.next_button.click()
    assert timeline.live and timeline.label.text() == LIVE and window.feature_maps_view.index == 8


def test_a_snapshot_stays_shown_while_the_run_sends_live_ones(window, qtbot):
    timeline = window.timeline
    start(window, epochs=50)
    qtbot.waitUntil(lambda: timeline.slider.maximum() >= 2, timeout=60_000)
    timeline.slider.setValue(1)
    second = window.session.timelapse.frames[1]
    for _ in range(2):
        with qtbot.waitSignal(window.trainer.snapshotReady, timeout=30_000):
            pass
    assert timeline.frame == 1 and shows_filters(window, second.filters)
    assert timeline.label.text().startswith("Snapshot 2 of ")
    assert timeline.label.text().endswith(": 25% into epoch 1 of 50 (time-lapse)")  # the run's epochs
    with qtbot.waitSignal(window.trainer.snapshotReady, timeout=30_000) as live:
        qtbot.mouseClick(timeline.live_button, Qt.MouseButton.LeftButton)
    assert timeline.live
    assert shows_filters(window, live.args[0].kernels[0])
    window.stop_training()
    wait_until_finished(qtbot, window)


def test_a_weight_files_time_lapse_comes_back_on_the_timeline(window, qtbot, tmp_path):
    frames = trained(window, qtbot)
    path = str(tmp_path / "net.safetensors")
    window.save_weights_as(path)
    window.acts.reset.trigger()
    timeline = window.timeline
    assert window.session.timelapse is None and timeline.label.text() == NONE_YET
    assert not timeline.slider.isEnabled()
    window.open_weights(path)
    assert window.last_error == "" and timeline.live and timeline.slider.maximum() == 4
    timeline.slider.setValue(1)
    assert shows_filters(window, frames[1].filters) and shows_maps(window, frames[1].maps)
    assert timeline.label.text() == "Snapshot 2 of 4: 25% into epoch 1 of 1 (time-lapse)"
    window.acts.restore_default.trigger()  # a new network: its views are live, the time-lapse gone
    assert timeline.live and timeline.label.text() == NONE_YET
