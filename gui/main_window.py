"""The ConvScope main window: it wires the editor, the settings, the trainer and the live views
together, and owns the network whenever no run is in progress.

While a run is in progress the network belongs to the worker thread: everything that would touch
it (editing, files, reset, device) is disabled, and the views are fed from the worker's copies."""

from __future__ import annotations

import math
import os
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine import (
    Backend,
    DataError,
    Dataset,
    DeviceError,
    EpochInfo,
    History,
    Network,
    SpecError,
    load_dataset,
)
from engine import weights as weight_files
from engine.optim import Optimizer
from engine.spec import default_spec, load_spec, save_spec, shape_text, validate
from engine.training import fit_problem
from gui import error_dialog, theme
from gui.error_dialog import reports_errors
from gui.feature_maps_view import FeatureMapsView
from gui.filters_view import FiltersView
from gui.naming import named
from gui.network_editor import NetworkEditor
from gui.plots import AccuracyPlot, LossPlot
from gui.preferences import Preferences
from gui.recent_files import RecentFiles
from gui.settings_panel import SettingsPanel
from gui.snapshot import Snapshot, take_snapshot
from gui.trainer import Trainer
from gui.worker import LossUpdate, TrainingWorker

WEIGHTS_FILTER = "Weight files (*.safetensors)"
NETWORK_FILTER = "Network (*.json)"
DATA_FILTER = "NumPy archive (*.npz)"
SPLITTERS = ("mainSplitter", "leftSplitter", "rightSplitter", "plotSplitter", "viewSplitter")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


class MainWindow(QMainWindow):
    #: The progress bar's value, set through a queued connection: `QProgressBar.setValue` repaints
    #: at once, and from Python that repaint holds the GIL the worker trains with; queued, Qt calls
    #: it from its event loop without Python.
    _progress = Signal(int)

    def __init__(self, settings: QSettings | None = None, dataset: Dataset | None = None):
        super().__init__()
        theme.apply()
        self.setObjectName("mainWindow")
        #: Read with a type and range check each; what was refused is said once, below.
        self.preferences = Preferences(settings or QSettings())
        self.dataset = dataset or load_dataset()
        self.trainer = Trainer(self)
        self.weights_path: str | None = None
        #: The optimizer the next Train continues with (its momentum or moments), or None for a fresh one.
        self.optimizer: Optimizer | None = None
        self.trained = False
        self.last_error = ""
        self.last_notice = ""
        self.last_batch: Any = None
        self._run_start_epoch = 0
        self._run_epochs = 1
        self._splitters_restored = False

        self.editor = NetworkEditor()
        self.settings_panel = SettingsPanel()
        self.loss_plot = LossPlot()
        self.accuracy_plot = AccuracyPlot()
        self.filters_view = FiltersView()
        self.feature_maps_view = FeatureMapsView()
        self.recent = RecentFiles(self.preferences, self)
        self._build_actions()
        self._build_layout()
        self._build_menus()
        self._build_status_bar()

        self.settings_panel.restore(self.preferences)
        self.editor.set_spec(self._default_spec())
        self.editor.set_data(self.dataset.input_shape, self.dataset.classes)
        self.feature_maps_view.set_data(self.dataset.test.x, self.dataset.test.y, self.dataset.class_names)
        self.net = self._build(self.editor.spec(), self.settings_panel.device())
        self.net_ids = self.editor.layer_ids()
        self._connect()
        self._network_changed()
        self._restore_window()
        notice = self.preferences.notice()
        if notice:
            self.notify(notice)

    # -- construction --------------------------------------------------------------------------

    def _default_spec(self) -> dict[str, Any]:
        """The default network fitted to the data; just the output layer for images too small for it."""
        spec = default_spec()
        spec["input"], spec["classes"] = list(self.dataset.input_shape), self.dataset.classes
        return spec if not validate(spec) else {**spec, "layers": [{"type": "softmax"}]}

    def _action(self, text: str, name: str, tip: str, shortcut: Any = None) -> QAction:
        action = named(QAction(text, self), name, tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.train_action = self._action("&Train", "trainAction", "Train the network (F5)", "F5")
        self.pause_action = self._action("&Pause", "pauseAction", "Pause or resume training (F6)", "F6")
        self.stop_action = self._action(
            "&Stop", "stopAction", "Stop training after this batch (Shift+F5)", "Shift+F5"
        )
        self.reset_action = self._action(
            "&Reset Weights", "resetAction", "Re-initialise every weight from the seed (Ctrl+R)", "Ctrl+R"
        )
        self.open_weights_action = self._action(
            "&Open Weights…",
            "openWeightsAction",
            "Load a .safetensors weight file and its network",
            QKeySequence.StandardKey.Open,
        )
        self.save_weights_action = self._action(
            "&Save Weights",
            "saveWeightsAction",
            "Save the weights (to the same file again)",
            QKeySequence.StandardKey.Save,
        )
        self.save_weights_as_action = self._action(
            "Save Weights &As…",
            "saveWeightsAsAction",
            "Save the weights to a new file",
            QKeySequence.StandardKey.SaveAs,
        )
        self.open_network_action = self._action(
            "Open &Network…", "openNetworkAction", "Load a network (layers only) from JSON"
        )
        self.save_network_action = self._action(
            "Save N&etwork…", "saveNetworkAction", "Save the network (layers only) as JSON"
        )
        self.open_folder_action = self._action(
            "Open Data Set &Folder…", "openDataFolderAction", "Load a folder of MNIST-format IDX files"
        )
        self.open_npz_action = self._action(
            "Open Data Set F&ile…", "openDataFileAction", "Load images and labels from an .npz archive"
        )
        self.builtin_action = self._action(
            "Use &Built-in MNIST Sample", "builtinDataAction", "Go back to the 5,000-image MNIST sample"
        )
        self.quit_action = self._action(
            "&Quit", "quitAction", "Stop training and quit", QKeySequence.StandardKey.Quit
        )

    def _button(self, text: str, name: str, action: QAction) -> QPushButton:
        button = named(QPushButton(text), name, action.toolTip(), text)
        button.clicked.connect(action.trigger)
        return button

    def _splitter(self, name: str, orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
        splitter = named(QSplitter(orientation), name)
        splitter.setChildrenCollapsible(False)
        for widget in widgets:
            splitter.addWidget(widget)
        return splitter

    @staticmethod
    def _group(title: str, widget: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(widget)
        return box

    def _build_layout(self) -> None:
        self.train_button = self._button("Train", "trainButton", self.train_action)
        self.pause_button = self._button("Pause", "pauseButton", self.pause_action)
        self.stop_button = self._button("Stop", "stopButton", self.stop_action)
        self.reset_button = self._button("Reset weights", "resetButton", self.reset_action)
        self.train_button.setDefault(True)
        self.progress_bar = named(
            QProgressBar(), "progressBar", "Progress of the current run: epoch and batch", "Training progress"
        )
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self._progress.connect(self.progress_bar.setValue, Qt.ConnectionType.QueuedConnection)
        self.progress_bar.setFormat("ready")
        self.progress_bar.setTextVisible(True)
        self.rate_label = named(
            QLabel(""), "rateLabel", "Training speed, time left in this run, and the current learning rate"
        )
        self.rate_label.setMinimumWidth(
            self.fontMetrics().horizontalAdvance("00,000 images/s · ETA 00:00 · lr 0.00000")
        )

        controls = QHBoxLayout()
        for button in (self.train_button, self.pause_button, self.stop_button, self.reset_button):
            controls.addWidget(button)
        controls.addSpacing(12)
        controls.addWidget(self.progress_bar, 1)
        controls.addWidget(self.rate_label)

        self.left_splitter = self._splitter(
            "leftSplitter",
            Qt.Orientation.Vertical,
            self._group("Network", self.editor),
            self._group("Training", self.settings_panel),
        )
        self.left_splitter.setStretchFactor(0, 3)
        self.left_splitter.setStretchFactor(1, 1)
        self.plot_splitter = self._splitter(
            "plotSplitter", Qt.Orientation.Horizontal, self.loss_plot, self.accuracy_plot
        )
        self.plot_splitter.setStretchFactor(0, 3)
        self.plot_splitter.setStretchFactor(1, 2)
        self.view_splitter = self._splitter(
            "viewSplitter",
            Qt.Orientation.Horizontal,
            self._group("Learned filters", self.filters_view),
            self._group("Feature maps", self.feature_maps_view),
        )
        self.view_splitter.setStretchFactor(0, 1)
        self.view_splitter.setStretchFactor(1, 2)
        self.right_splitter = self._splitter(
            "rightSplitter", Qt.Orientation.Vertical, self.plot_splitter, self.view_splitter
        )
        self.right_splitter.setStretchFactor(0, 2)
        self.right_splitter.setStretchFactor(1, 3)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(controls)
        right_layout.addWidget(self.right_splitter, 1)
        self.main_splitter = self._splitter(
            "mainSplitter", Qt.Orientation.Horizontal, self.left_splitter, right
        )
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.left_splitter.setMinimumWidth(self.fontMetrics().averageCharWidth() * 48)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.main_splitter)
        self.setCentralWidget(central)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.open_weights_action, self.save_weights_action, self.save_weights_as_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.open_network_action)
        file_menu.addAction(self.save_network_action)
        file_menu.addSeparator()
        for action in (self.open_folder_action, self.open_npz_action, self.builtin_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addMenu(self.recent.menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        train_menu = self.menuBar().addMenu("&Training")
        for action in (self.train_action, self.pause_action, self.stop_action, self.reset_action):
            train_menu.addAction(action)

    def _build_status_bar(self) -> None:
        self.device_label = named(QLabel(), "deviceLabel", "Where the network's arrays live")
        self.data_label = named(QLabel(), "dataLabel", "The data set being trained on")
        self.statusBar().addPermanentWidget(self.data_label)
        self.statusBar().addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        self.train_action.triggered.connect(self.start_training)
        self.pause_action.triggered.connect(self.toggle_pause)
        self.stop_action.triggered.connect(self.stop_training)
        self.reset_action.triggered.connect(self.reset_weights)
        self.open_weights_action.triggered.connect(lambda: self.open_weights())
        self.save_weights_action.triggered.connect(self.save_weights)
        self.save_weights_as_action.triggered.connect(lambda: self.save_weights_as())
        self.open_network_action.triggered.connect(lambda: self.open_network())
        self.save_network_action.triggered.connect(lambda: self.save_network())
        self.open_folder_action.triggered.connect(self._ask_data_folder)
        self.open_npz_action.triggered.connect(self._ask_data_file)
        self.builtin_action.triggered.connect(lambda: self.open_dataset("mnist-5k"))
        self.quit_action.triggered.connect(self.close)
        self.recent.openRequested.connect(self.open_recent)

        self.editor.specEdited.connect(self._spec_edited)
        self.settings_panel.learningRateChanged.connect(self.trainer.set_lr)
        self.settings_panel.deviceChanged.connect(self._device_changed)
        self.feature_maps_view.sampleChanged.connect(self._sample_changed)
        self.feature_maps_view.misclassifiedToggled.connect(self._misclassified_toggled)

        self.trainer.lossUpdated.connect(self._loss_updated)
        self.trainer.epochEnded.connect(self._epoch_ended)
        self.trainer.snapshotReady.connect(self._show_snapshot)
        self.trainer.predictionsReady.connect(self.feature_maps_view.set_misclassified)
        self.trainer.failed.connect(lambda text, details: self.show_error("Training stopped", text, details))
        self.trainer.finished.connect(self._training_finished)

    # -- messages ------------------------------------------------------------------------------

    def show_error(self, title: str, text: str, details: str = "") -> None:
        """The error dialog (:func:`gui.error_dialog.show_error`), its text kept in `last_error`."""
        self.last_error = text
        error_dialog.show_error(self, title, text, details)

    def notify(self, text: str) -> None:
        self.last_notice = text
        self.statusBar().showMessage(text, 15000)

    # -- the network ---------------------------------------------------------------------------

    def _build(self, spec: dict[str, Any], device: str | Backend) -> Network:
        return self.settings_panel.config().make_network(spec, device)

    def _network_changed(self) -> None:
        """Redraw everything that shows the (idle) network."""
        self.filters_view.set_layers(self.net.infos, self.net.input_shape[0])
        self.feature_maps_view.set_layers(self.net.infos)
        self._show_snapshot(take_snapshot(self.net, self.dataset.test.x, self.feature_maps_view.index))
        if self.feature_maps_view.misclassified_check.isChecked():
            self.feature_maps_view.set_misclassified(self.net.predict(self.dataset.test.x))
        self.device_label.setText(self.net.backend.description)
        d = self.dataset
        self.data_label.setText(
            f"{d.name} · {len(d.train.x):,} train / {len(d.test.x):,} test · {shape_text(d.input_shape)}"
        )
        self._update_title()
        self._update_controls()

    def _update_title(self) -> None:
        name = f" — {os.path.basename(self.weights_path)}" if self.weights_path else ""
        self.setWindowTitle(f"ConvScope — {self.dataset.name}{name}")

    def _rebuild(self, spec: dict[str, Any], device: str | Backend) -> Network:
        """The network after an edit or a device change keeps its seed and initialisation."""
        return Network(spec, seed=self.net.seed, device=device, init=self.net.init)

    def _spec_edited(self) -> None:
        self._update_controls()
        if self.trainer.running or not self.editor.is_valid():
            return
        try:
            new = self._rebuild(self.editor.spec(), self.net.backend)
        except (SpecError, ValueError, MemoryError) as exc:
            self.show_error("Cannot build the network", str(exc))
            return
        ids = self.editor.layer_ids()
        old_index = {layer_id: i for i, layer_id in enumerate(self.net_ids)}
        sources = {i: old_index[layer_id] for i, layer_id in enumerate(ids) if layer_id in old_index}
        reset = new.take_weights(self.net, sources)
        learned = sum(1 for info in new.infos if info.params)
        if self.trained and reset:
            names = ", ".join(f"{i} ({new.infos[i].type})" for i in reset)
            self.notify(
                f"Re-initialised layer {names}: the edit changed its weight shapes. "
                f"The other {learned - len(reset)} layer(s) with weights kept what they learned."
            )
        self.trained = self.trained and len(reset) < learned
        self.net, self.net_ids = new, ids
        self.optimizer = None
        self._network_changed()

    def _device_changed(self, device: str) -> None:
        try:
            new = self._rebuild(self.net.spec, device)
        except DeviceError as exc:
            self.settings_panel.set_device(self.net.backend.name)
            self.show_error("Device unavailable", str(exc))
            return
        new.load_state_dict(self.net.state_dict())
        new.metadata = self.net.metadata
        self.net = new
        self.optimizer = None
        self._network_changed()

    def reset_weights(self) -> None:
        if self.trainer.running or not self.editor.is_valid():
            return
        self.net = self._build(self.net.spec, self.net.backend)
        self.optimizer = None
        self.trained = False
        self.loss_plot.clear_data()
        self.accuracy_plot.clear_data()
        self._progress.emit(0)
        self.progress_bar.setFormat("ready")
        self.notify(f"Weights re-initialised from seed {self.settings_panel.seed()}.")
        self._network_changed()

    # -- training ------------------------------------------------------------------------------

    def _update_controls(self) -> None:
        running, paused = self.trainer.running, self.trainer.paused
        can_train = not running and self.editor.is_valid()
        self.train_action.setEnabled(can_train)
        self.train_button.setEnabled(can_train)
        for action, button in ((self.pause_action, self.pause_button), (self.stop_action, self.stop_button)):
            action.setEnabled(running)
            button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.reset_action.setEnabled(can_train)
        self.reset_button.setEnabled(can_train)
        self.editor.setEnabled(not running)
        self.settings_panel.set_training(running)
        for action in (
            self.open_weights_action,
            self.save_weights_action,
            self.save_weights_as_action,
            self.open_network_action,
            self.save_network_action,
            self.open_folder_action,
            self.open_npz_action,
            self.builtin_action,
        ):
            action.setEnabled(not running)
        self.recent.menu.setEnabled(not running and bool(self.recent.paths()))

    def start_training(self) -> None:
        if self.trainer.running or not self.editor.is_valid():
            return
        problem = fit_problem(self.net, self.dataset, exact_classes=True)
        if problem:
            self.show_error("The network does not fit the data", problem)
            return
        config = self.settings_panel.config()
        self._run_start_epoch = int(self.net.metadata.get("epochs", 0))
        self._run_epochs = config.epochs
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.rewind(self._run_start_epoch)
            plot.set_horizon(self._run_start_epoch + config.epochs)
        self.trained = True
        self._progress.emit(0)
        self.progress_bar.setFormat("starting…")
        self.optimizer = config.make_optimizer(self.optimizer)
        self.trainer.start(
            TrainingWorker(
                self.net,
                self.dataset,
                config,
                self.optimizer,
                self.feature_maps_view.index,
                self.feature_maps_view.misclassified_check.isChecked(),
            )
        )
        self.statusBar().showMessage(f"Training on {self.net.backend.description}…")
        self._update_controls()

    def toggle_pause(self) -> None:
        if not self.trainer.running:
            return
        if self.trainer.paused:
            self.trainer.resume()
        else:
            self.trainer.pause()
        self._update_controls()

    def stop_training(self) -> None:
        self.trainer.stop()

    def _loss_updated(self, update: LossUpdate) -> None:
        self.loss_plot.append(update.x, update.loss)
        info = self.last_batch = update.info
        done = (info.epoch - 1 - self._run_start_epoch) * info.batches + info.batch
        self._progress.emit(round(1000 * done / max(1, self._run_epochs * info.batches)))
        self.progress_bar.setFormat(f"epoch {info.epoch}/{info.epochs} · batch {info.batch}/{info.batches}")
        self.rate_label.setText(
            f"{info.images_per_s:,.0f} images/s · ETA {_duration(info.eta_s)} · lr {info.lr:.3g}"
        )

    def _epoch_ended(self, info: EpochInfo) -> None:
        if info.val_loss is not None:
            self.loss_plot.add_validation(info.epoch, info.val_loss)
        self.accuracy_plot.add_epoch(info)
        val = f", validation {100 * info.val_acc:.1f}%" if info.val_acc is not None else ""
        self.statusBar().showMessage(f"Epoch {info.epoch}: train accuracy {100 * info.train_acc:.1f}%{val}")

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        self.filters_view.show_kernels(snapshot.kernels)
        self.feature_maps_view.show_maps(snapshot.sample_index, snapshot.maps)

    def _training_finished(self, history: History | None) -> None:
        if history is not None:
            self.progress_bar.setFormat("stopped" if history.stopped else "done")
            if not history.stopped:
                self._progress.emit(1000)
        else:
            self.progress_bar.setFormat("failed")
        self._update_controls()  # the worker already sent the final views: nothing to recompute here

    def _sample_changed(self, index: int) -> None:
        if self.trainer.running:
            self.trainer.set_sample(index)
        else:
            self._show_snapshot(take_snapshot(self.net, self.dataset.test.x, index))

    def _misclassified_toggled(self, on: bool) -> None:
        if self.trainer.running:
            self.trainer.track_misclassified(on)
        elif on:
            self.feature_maps_view.set_misclassified(self.net.predict(self.dataset.test.x))

    # -- files ---------------------------------------------------------------------------------

    def _last_dir(self) -> str:
        folder = self.preferences.text("lastDirectory")
        return folder if folder and os.path.isdir(folder) else os.getcwd()

    def _remember_dir(self, path: str) -> None:
        self.preferences.set("lastDirectory", os.path.dirname(os.path.abspath(path)))

    def _adopt(self, net: Network, spec_source: str, optimizer: Optimizer | None = None) -> None:
        """Show a network that came from a file: new layer ids, so no weights are carried over; a
        saved optimizer is kept for the next Train and its settings shown."""
        self.editor.set_spec(net.spec)
        self.net, self.net_ids = net, self.editor.layer_ids()
        self.optimizer = optimizer
        if optimizer is not None:
            self.settings_panel.show_optimizer(optimizer)
        self.loss_plot.clear_data()
        self.accuracy_plot.clear_data()
        self.notify(f"Loaded {spec_source}.")
        self._network_changed()

    @reports_errors("Cannot open the weight file")
    def open_weights(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open weights", self._last_dir(), WEIGHTS_FILTER)
        if not path or self.trainer.running:
            return
        net, optimizer = weight_files.load_with_optimizer(path, device=self.net.backend)
        problem = fit_problem(net, self.dataset, exact_classes=True)
        if problem:
            raise DataError(f"{path}: {problem}")
        self.weights_path = path
        self.trained = True
        self._remember_dir(path)
        self.recent.add(path)
        kept = f" and its {optimizer.name} state, which Train continues" if optimizer is not None else ""
        self._adopt(net, os.path.basename(path) + kept, optimizer)

    def save_weights(self) -> None:
        if self.weights_path is None:
            self.save_weights_as()
        else:
            self._write_weights(self.weights_path)

    def save_weights_as(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save weights", self._last_dir(), WEIGHTS_FILTER)
        if not path:
            return
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        self._write_weights(path)

    @reports_errors("Cannot save the weights")
    def _write_weights(self, path: str) -> None:
        if self.trainer.running:
            return
        weight_files.save(self.net, path, optimizer=self.optimizer, dataset=self.dataset)
        self.weights_path = path
        self._remember_dir(path)
        self.recent.add(path)
        self.notify(f"Saved the weights to {path}.")
        self._update_title()

    @reports_errors("Cannot open the network")
    def open_network(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open network", self._last_dir(), NETWORK_FILTER)
        if not path or self.trainer.running:
            return
        net = self._build(load_spec(path), self.net.backend)
        problem = fit_problem(net, self.dataset, exact_classes=True)
        if problem:
            raise DataError(f"{path}: {problem}")
        self.trained = False
        self._remember_dir(path)
        self.recent.add(path)
        self._adopt(net, os.path.basename(path))

    @reports_errors("Cannot save the network")
    def save_network(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save network", self._last_dir(), NETWORK_FILTER)
        if not path:
            return
        save_spec(self.editor.spec(), path)
        self._remember_dir(path)
        self.notify(f"Saved the network to {path}.")

    def _ask_data_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of IDX files", self._last_dir())
        if path:
            self.open_dataset(path)

    def _ask_data_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a data set", self._last_dir(), DATA_FILTER)
        if path:
            self.open_dataset(path)

    @reports_errors("Cannot open the data set")
    def open_dataset(self, source: str) -> None:
        """Load a data set and fit the network's input and output to it, keeping what still fits."""
        if self.trainer.running:
            return
        dataset = load_dataset(source)
        spec = {**self.editor.spec(), "input": list(dataset.input_shape), "classes": dataset.classes}
        problems = validate(spec)
        if problems:
            raise DataError(
                f"The network does not fit {dataset.name}'s {shape_text(dataset.input_shape)} images:\n"
                + "\n".join(problems)
            )
        self.dataset = dataset
        if source != "mnist-5k":
            self._remember_dir(source)
            self.recent.add(source)
        self.feature_maps_view.set_data(dataset.test.x, dataset.test.y, dataset.class_names)
        self.editor.set_data(dataset.input_shape, dataset.classes)
        self._network_changed()
        self.notify(f"Opened the data set {dataset.name}.")

    def open_recent(self, path: str) -> None:
        if path.endswith(".safetensors"):
            self.open_weights(path)
        elif path.endswith(".json"):
            self.open_network(path)
        else:
            self.open_dataset(path)

    # -- window state --------------------------------------------------------------------------

    def _restore_window(self) -> None:
        geometry = self.preferences.data("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1440, 900)
        #: Applied once the window is shown (see showEvent), read now with every other preference.
        self._splitter_states = {name: self.preferences.data(f"splitters/{name}") for name in SPLITTERS}

    def showEvent(self, event: QShowEvent) -> None:
        """Splitter sizes are restored once the window has its real size, or they get squeezed; by
        default the left panel is wide enough for the layer list's full text where the window allows."""
        super().showEvent(event)
        if self._splitters_restored:
            return
        self._splitters_restored = True
        left = min(max(self.width() * 3 // 10, self.editor.full_width()), self.width() * 37 // 100)
        self.main_splitter.setSizes([left, self.width() - left])
        for name, state in self._splitter_states.items():
            if state is not None:
                self.findChild(QSplitter, name).restoreState(state)

    def save_window_state(self) -> None:
        self.preferences.set("window/geometry", self.saveGeometry())
        for name in SPLITTERS:
            self.preferences.set(f"splitters/{name}", self.findChild(QSplitter, name).saveState())
        self.settings_panel.save(self.preferences)
        self.preferences.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_window_state()
        if not self.trainer.shutdown(2000):
            # A batch outlasted the wait: close once the run has ended, never under a live thread.
            event.ignore()
            self.trainer.finished.connect(self.close, Qt.ConnectionType.SingleShotConnection)
            self.notify("Stopping the training run before closing…")
            return
        event.accept()
