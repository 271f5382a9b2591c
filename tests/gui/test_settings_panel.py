"""The settings panel alone: what it shows is the recipe it gives, a saved optimizer is shown as
saved, and a run locks everything but the learning rate."""

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from engine.optim import SGD, Adam
from gui.settings_panel import SettingsPanel


def _panel(qtbot) -> SettingsPanel:
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    return panel


def test_the_recipe_is_what_the_widgets_show(qtbot):
    panel = _panel(qtbot)
    panel.epochs_spin.setValue(7)
    panel.batch_spin.setValue(48)
    panel.seed_spin.setValue(5)
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    config = panel.config()
    assert (config.epochs, config.batch_size, config.seed, config.optimizer) == (7, 48, 5, "adam")
    assert config.lr == Adam().lr  # picking Adam brings Adam's default rate
    assert not panel.momentum_spin.isEnabled()


def test_a_saved_optimizer_is_shown_as_saved(qtbot):
    panel = _panel(qtbot)
    panel.show_optimizer(SGD(lr=0.0123, momentum=0.5, l2=0.002))
    config = panel.config()
    assert (config.optimizer, config.lr, config.momentum, config.l2) == ("sgd", 0.0123, 0.5, 0.002)


def test_a_run_locks_everything_but_the_learning_rate(qtbot):
    panel = _panel(qtbot)
    rates = []
    panel.learningRateChanged.connect(rates.append)
    panel.set_training(True)
    editable = [
        w
        for w in panel.findChildren(QComboBox)
        + panel.findChildren(QSpinBox)
        + panel.findChildren(QDoubleSpinBox)
        if w.isEnabled()
    ]
    assert editable == [panel.lr_spin]
    panel.lr_spin.setValue(0.02)
    assert rates == [0.02]
    panel.set_training(False)
    assert panel.epochs_spin.isEnabled() and panel.momentum_spin.isEnabled()
