"""The user's own data in and the trained network out, through the window: augmentation settings
that reach the training call and come back after a restart, opening an image folder off the GUI
thread with progress and Cancel, and exporting to ONNX."""

from test_window import start, wait_until_finished

from engine import fit
from engine.augment import Augment
from gui import session as session_module
from gui.preferences import Preferences
from gui.settings_panel import SettingsPanel


def _augment(panel: SettingsPanel, shift: int, rotate: float, flip: bool) -> None:
    panel.shift_spin.setValue(shift)
    panel.rotate_spin.setValue(rotate)
    panel.flip_check.setChecked(flip)


def test_augmentation_set_in_the_window_reaches_the_sessions_training_call(qtbot, window, monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["augment"])
        return fit(*args, **kwargs)

    monkeypatch.setattr(session_module, "fit", spy)
    _augment(window.settings_panel, 3, 12.5, True)
    start(window, epochs=1)
    assert window.statusBar().currentMessage().endswith("varying the images: shift 3 px, flip, rotate 12.5°…")
    assert not window.settings_panel.flip_check.isEnabled()  # locked while the run trains
    wait_until_finished(qtbot, window)
    assert calls == [Augment(shift=3, flip=True, rotate=12.5)]
    assert window.settings_panel.flip_check.isEnabled()


def test_augmentation_is_kept_in_the_preferences_as_plain_numbers(qtbot, settings):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    assert panel.config().augment == Augment()  # the default recipe varies nothing
    _augment(panel, 2, 10.0, True)
    panel.save(Preferences(settings))
    settings.sync()
    assert [settings.value(f"training/{k}") for k in ("shift", "rotate", "flip")] == [2, 10.0, 1]
    again = SettingsPanel()
    qtbot.addWidget(again)
    again.restore(Preferences(settings))
    assert again.config().augment == Augment(shift=2, flip=True, rotate=10.0)
    settings.setValue("training/flip", 7)  # damaged: the default stays, and the notice says so
    third = SettingsPanel()
    qtbot.addWidget(third)
    preferences = Preferences(settings)
    third.restore(preferences)
    assert third.config().augment == Augment(shift=2, rotate=10.0)
    assert "training/flip" in preferences.notice()
