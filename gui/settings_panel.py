"""Training settings: optimizer, learning rate, batch size, epochs, L2, schedule, initialisation,
seed, device, CPU threads and augmentation (shift, flip, rotate).

Only the learning rate stays editable during a run (the trainer applies it at the next batch);
the values are remembered between sessions in the preferences."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from engine.augment import Augment
from engine.backend import gpu_unavailable_reason
from engine.init import INITS
from engine.optim import LEARNING_RATES, Optimizer
from engine.parallel import THREADS_VAR, default_threads
from engine.recipe import DEFAULT_RECIPE, Recipe
from engine.training import SCHEDULES
from gui.naming import named
from gui.preferences import Preferences

DEVICES = (("auto", "Auto"), ("cpu", "CPU (NumPy)"), ("gpu", "GPU (CuPy)"))
OPTIMIZER_LABELS = (("sgd", "SGD with momentum"), ("adam", "Adam"))
GROUP = "training"
#: The largest shift offered: a quarter of a 28-pixel digit already moves it off its centre.
MAX_SHIFT = 16


def window_threads() -> int:
    """The window trains on one core fewer than the engine would (unless $CONVSCOPE_THREADS
    says otherwise): drawing then has a core of its own, so it neither waits for training nor
    stalls the threads that split each batch (tests/benchmarks/README.md has both figures)."""
    threads = default_threads()
    return threads if os.environ.get(THREADS_VAR, "").strip() else max(1, threads - 1)


def _row(title: str, fields: tuple[tuple[str, QWidget], ...]) -> QWidget:
    """Fields side by side, each after its label (if any), named for screen readers as
    "title: label" (a check box by its own text)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for label, widget in fields:
        text = label or (widget.text() if isinstance(widget, QCheckBox) else "")
        widget.setAccessibleName(f"{title}: {text}" if text else title)
        if label:
            layout.addWidget(QLabel(label))
        layout.addWidget(widget)
    layout.addStretch(1)
    return row


class SettingsPanel(QWidget):
    """The form the user sets a run up with; `config()` reads it as one value."""

    learningRateChanged = Signal(float)
    deviceChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        defaults = DEFAULT_RECIPE
        self.optimizer_combo = self._combo("optimizerCombo", OPTIMIZER_LABELS, "How the weights are updated")
        self.lr_spin = self._double(
            "learningRateSpin", 1e-5, 10.0, 5, defaults.lr, "Step size; can be changed while training"
        )
        self.lr_spin.setSingleStep(0.005)
        self.momentum_spin = self._double(
            "momentumSpin",
            0.0,
            0.999,
            3,
            defaults.momentum,
            "SGD momentum: how much of the last step carries on",
        )
        self.momentum_spin.setSingleStep(0.05)
        self.batch_spin = self._int("batchSizeSpin", 1, 4096, defaults.batch_size, "Images per weight update")
        self.epochs_spin = self._int(
            "epochsSpin",
            1,
            1000,
            defaults.epochs,
            "Passes over the training set in this run; a continued run trains this many more, "
            "numbered on from the epochs already trained",
        )
        self.l2_spin = self._double(
            "l2Spin", 0.0, 1.0, 6, defaults.l2, "L2 weight decay on the weights (not the biases)"
        )
        self.l2_spin.setSingleStep(1e-4)
        self.schedule_combo = self._combo(
            "scheduleCombo",
            tuple((s, s.capitalize()) for s in SCHEDULES),
            "Learning rate over the run: constant, halved every 5 epochs (step), or cosine decay to zero. "
            "A continued run lays the schedule over all its epochs, old and new, so a step or cosine "
            "rate rises again",
        )
        self.init_combo = self._combo(
            "initCombo",
            tuple(
                zip(
                    INITS,
                    ("network3: N(0, 1/n_out) weights, N(0, 1) biases", "He: N(0, 2/fan_in)"),
                    strict=True,
                )
            ),
            "How Reset weights draws the initial weights",
        )
        for combo, value in (
            (self.optimizer_combo, defaults.optimizer),
            (self.schedule_combo, defaults.schedule),
            (self.init_combo, defaults.init),
        ):
            combo.setCurrentIndex(combo.findData(value))
        self.seed_spin = self._int(
            "seedSpin", 0, 2**31 - 1, defaults.seed, "Seed for the initial weights and shuffling"
        )
        self.device_combo = self._combo("deviceCombo", DEVICES, "Where the arrays live and the math runs")
        self.threads_spin = self._int(
            "threadsSpin",
            1,
            max(64, default_threads()),
            window_threads(),
            "CPU threads each batch is split over (NumPy only). The default leaves one core for "
            "the window, which keeps it smooth; one per core trains faster and draws less evenly.",
        )
        self.shift_spin = self._int(
            "shiftSpin", 0, MAX_SHIFT, defaults.augment.shift,
            "Augmentation: move each training image by up to this many pixels, a new draw every batch",
        )
        self.rotate_spin = self._double(
            "rotateSpin", 0.0, 180.0, 1, defaults.augment.rotate,
            "Augmentation: turn each training image by up to this many degrees either way",
        )
        self.shift_spin.setSuffix(" px")
        self.rotate_spin.setSuffix("°")
        self.flip_check = named(
            QCheckBox("flip"), "flipCheck",
            "Augmentation: mirror a random half of each batch left-right (leave off for digits and text)",
        )
        self.flip_check.setChecked(defaults.augment.flip)
        self.expand_check = named(
            QCheckBox("×5"), "expandCheck",
            "Augmentation: network3's expanded set, each training image plus four copies moved one "
            "pixel up, down, left and right (five times the images, so each epoch takes five times as long)",
        )
        self.expand_check.setChecked(defaults.augment.expand)
        reason = gpu_unavailable_reason()
        if reason is not None:
            gpu = self.device_combo.model().item(2)
            gpu.setEnabled(False)
            gpu.setToolTip(reason)
            self.device_combo.setItemData(2, reason, Qt.ItemDataRole.ToolTipRole)
            self.device_combo.setToolTip(
                f"Where the arrays live and the math runs. GPU unavailable: {reason}"
            )

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for label, widget in (
            ("Optimizer", self.optimizer_combo),
            ("Learning rate", self.lr_spin),
            ("Momentum", self.momentum_spin),
            ("Batch size", self.batch_spin),
            ("Epochs", self.epochs_spin),
            ("L2", self.l2_spin),
            ("Schedule", self.schedule_combo),
            ("Initialisation", self.init_combo),
            ("Seed", self.seed_spin),
        ):
            widget.setAccessibleName(label)
            form.addRow(label, widget)
        flip, expanded = self.flip_check, self.expand_check
        # Two rows of related fields each, which keeps the panel short enough for the layer list.
        for label, fields in (
            ("Device", (("", self.device_combo), ("CPU threads", self.threads_spin))),
            (
                "Augmentation",
                (("shift", self.shift_spin), ("rotate", self.rotate_spin), ("", flip), ("", expanded)),
            ),
        ):
            form.addRow(label, _row(label, fields))

        self.optimizer_combo.currentIndexChanged.connect(self._optimizer_picked)
        self.lr_spin.valueChanged.connect(self.learningRateChanged)
        self.device_combo.currentIndexChanged.connect(lambda _: self.deviceChanged.emit(self.device()))

    def config(self) -> Recipe:
        return Recipe(
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            optimizer=self.optimizer_combo.currentData(),
            lr=self.lr_spin.value(),
            momentum=self.momentum_spin.value(),
            l2=self.l2_spin.value(),
            schedule=self.schedule_combo.currentData(),
            init=self.init_combo.currentData(),
            seed=self.seed_spin.value(),
            threads=self.threads_spin.value(),
            augment=Augment(
                self.shift_spin.value(), self.flip_check.isChecked(), self.rotate_spin.value(),
                self.expand_check.isChecked(),
            ),
        )

    def show_optimizer(self, optimizer: Optimizer) -> None:
        """Show a saved optimizer's kind and settings, so the next run continues it as saved."""
        config = optimizer.config()
        self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(config["name"]))
        for key, spin in (("lr", self.lr_spin), ("momentum", self.momentum_spin), ("l2", self.l2_spin)):
            if key in config:
                spin.setValue(config[key])

    def seed(self) -> int:
        return self.seed_spin.value()

    def device(self) -> str:
        return self.device_combo.currentData()

    def set_device(self, device: str) -> None:
        self.device_combo.blockSignals(True)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(device)))
        self.device_combo.blockSignals(False)

    def set_training(self, training: bool) -> None:
        """Lock everything but the learning rate while a run is in progress."""
        for widget in self.findChildren(QWidget):
            fields = QComboBox | QSpinBox | QDoubleSpinBox | QCheckBox
            if widget is not self.lr_spin and isinstance(widget, fields):
                widget.setEnabled(not training)
        if not training:
            self._optimizer_changed()

    def save(self, preferences: Preferences) -> None:
        for key, widget in self._remembered().items():
            if isinstance(widget, QCheckBox):  # stored as 0 or 1: QSettings keeps plain types only
                value = int(widget.isChecked())
            else:
                value = widget.currentData() if isinstance(widget, QComboBox) else widget.value()
            preferences.set(f"{GROUP}/{key}", value)

    def restore(self, preferences: Preferences) -> None:
        """Each saved value that its widget can show as it is; a damaged one leaves the default
        (the preferences note it), never a value clamped or converted into something else."""
        for key, widget in self._remembered().items():
            name = f"{GROUP}/{key}"
            if isinstance(widget, QComboBox):
                value = preferences.choice(name, [widget.itemData(i) for i in range(widget.count())])
                index = widget.findData(value)
                if index >= 0 and widget.model().item(index).isEnabled():  # a GPU may be gone
                    widget.setCurrentIndex(index)
            elif isinstance(widget, QCheckBox):
                value = preferences.number(name, int, 0, 1)
                if value is not None:
                    widget.setChecked(bool(value))
            else:
                kind = float if isinstance(widget, QDoubleSpinBox) else int
                value = preferences.number(name, kind, widget.minimum(), widget.maximum())
                if value is not None:
                    widget.setValue(value)
        self._optimizer_changed()

    def _remembered(self) -> dict[str, QComboBox | QSpinBox | QDoubleSpinBox | QCheckBox]:
        """The widgets kept in the preferences, by key; the optimizer first: picking it may move
        the learning rate, which the saved one then sets."""
        return {
            "optimizer": self.optimizer_combo,
            "schedule": self.schedule_combo,
            "init": self.init_combo,
            "device": self.device_combo,
            "epochs": self.epochs_spin,
            "batch_size": self.batch_spin,
            "lr": self.lr_spin,
            "momentum": self.momentum_spin,
            "l2": self.l2_spin,
            "seed": self.seed_spin,
            "threads": self.threads_spin,
            "shift": self.shift_spin,
            "rotate": self.rotate_spin,
            "flip": self.flip_check,
            "expand": self.expand_check,
        }

    def _optimizer_picked(self, _index: int) -> None:
        """A learning rate still at an optimizer's usual value follows the pick (Adam's is 30 times
        smaller than SGD's); one the user chose stays."""
        if self.lr_spin.value() in LEARNING_RATES.values():
            self.lr_spin.setValue(LEARNING_RATES[self.optimizer_combo.currentData()])
        self._optimizer_changed()

    def _optimizer_changed(self) -> None:
        self.momentum_spin.setEnabled(self.optimizer_combo.currentData() == "sgd")

    def _combo(self, name: str, items: tuple[tuple[str, str], ...], tip: str) -> QComboBox:
        combo = QComboBox()
        for data, label in items:
            combo.addItem(label, data)
        return named(combo, name, tip)

    def _int(self, name: str, low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        return named(spin, name, tip)

    def _double(
        self, name: str, low: float, high: float, decimals: int, value: float, tip: str
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(decimals)
        spin.setRange(low, high)
        spin.setValue(value)
        return named(spin, name, tip)
