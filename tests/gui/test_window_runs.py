"""The window keeps each run that trains to its end in its runs folder, and says so, and takes
the run's time-lapse as it trains."""

from test_window import start, wait_until_finished

from engine import runs


def test_a_run_trained_to_its_end_is_kept_and_the_status_bar_says_so(qtbot, settings, small_data, tmp_path):
    from gui.main_window import MainWindow

    window = MainWindow(settings=settings, dataset=small_data, runs_folder=tmp_path / "runs")
    qtbot.addWidget(window)
    window.settings_panel.device_combo.setCurrentIndex(window.settings_panel.device_combo.findData("cpu"))
    window.show()
    start(window, epochs=1)
    wait_until_finished(qtbot, window)
    (record,), skipped = runs.load_runs(tmp_path / "runs")
    assert skipped == [] and [e["epoch"] for e in record.history] == [1]
    assert record.dataset == "mnist-small" and record.spec == window.session.net.spec
    assert window.last_notice == f"Kept the run as {record.name!r} in {tmp_path / 'runs'}."
    assert window.statusBar().currentMessage() == window.last_notice
    # 4 batches: frames before the run, after its first and second batch, and at the epoch's end
    assert [f.position for f in window.session.timelapse.frames] == [0, 0.25, 0.5, 1]
    assert window.session.timelapse.sample_index == window.feature_maps_view.index
