"""The ConvScope main window: it renders a :class:`Session` and turns the user's actions into the
session's operations; the state itself (network, data, optimizer, files, history) is the session's.

While a run is in progress the network belongs to the worker thread: everything that would touch
it (editing, files, reset, device) is disabled, and the views are fed from the worker's copies."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow

from engine import BatchInfo, Dataset, EpochInfo, History, load_dataset
from engine.spec import shape_text
from gui import confirm, error_dialog, window_layout
from gui.data_loading import DataLoader
from gui.error_dialog import reports_errors
from gui.feature_maps_view import FeatureMapsView
from gui.file_actions import FileActions
from gui.filters_view import FiltersView
from gui.misclassified import MisclassifiedList
from gui.network_actions import NetworkActions
from gui.network_editor import NetworkEditor
from gui.preferences import Preferences
from gui.recent_files import RecentFiles
from gui.run_bar import RunBar
from gui.session import BUILTIN, Session
from gui.settings_panel import SettingsPanel
from gui.snapshot import Snapshot
from gui.trainer import Trainer
from gui.worker import LossUpdate, TrainingWorker

PAUSED = "Paused: press Resume (F6) to go on"


class MainWindow(FileActions, NetworkActions, QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        dataset: Dataset | None = None,
        runs_folder: str | os.PathLike[str] | None = None,  # where finished runs are kept; None: nowhere
    ):
        super().__init__()
        self.setObjectName("mainWindow")
        #: Read with a type and range check each; what was refused is said once, below.
        self.preferences = Preferences(settings or QSettings())
        self.trainer, self.loader = Trainer(self), DataLoader(self)
        self.last_error = self.last_notice = ""
        self.last_batch: BatchInfo | None = None
        #: The answer to "Quit?" while closing waits for the run to end.
        self._quit_answer: str | None = None
        self._splitters_restored = False
        self.editor, self.settings_panel = NetworkEditor(), SettingsPanel()
        self.loss_plot = self.accuracy_plot = None  # made once shown: window_layout.build_plots
        self.filters_view, self.feature_maps_view = FiltersView(), FeatureMapsView()
        self.recent = RecentFiles(self.preferences, self)
        self.settings_panel.restore(self.preferences)
        self.session = Session(
            dataset or load_dataset(), self.settings_panel.config(), self.settings_panel.device(), runs_folder
        )
        self.misclassified = MisclassifiedList(self)
        self.acts = window_layout.build_actions(self)
        self.run_bar = RunBar(self.acts.train, self.acts.pause, self.acts.stop, self.acts.reset)
        self.main_splitter = window_layout.build_layout(self, self.run_bar)
        window_layout.build_menus(self, self.acts, self.recent.menu)
        self.data_label, self.device_label = window_layout.build_status_bar(self)
        self._connect()
        window_layout.build_docks(self)
        self._render_dataset()
        self._render_network()
        #: Applied once the window is shown (see showEvent), read now with every other preference.
        self._splitter_states = window_layout.restore_geometry(self, self.preferences)
        self.notify(self.preferences.notice())

    def _connect(self) -> None:
        a = self.acts
        for action, slot in (
            (a.train, self.start_training),
            (a.pause, self.toggle_pause),
            (a.stop, self.stop_training),
            (a.reset, self.reset_weights),
            (a.evaluate, self._evaluate),
            (a.open_weights, lambda: self.open_weights()),
            (a.save_weights, self.save_weights),
            (a.save_weights_as, lambda: self.save_weights_as()),
            (a.open_network, lambda: self.open_network()),
            (a.save_network, lambda: self.save_network()),
            (a.export, lambda: self.export_network()),
            (a.open_folder, self._ask_data_folder),
            (a.open_npz, self._ask_data_file),
            (a.builtin, lambda: self.open_dataset(BUILTIN)),
            (a.quit, self.close),
            (a.undo, self.undo_edit),
            (a.redo, self.redo_edit),
            (a.restore_default, self.restore_default_network),
        ):
            action.triggered.connect(slot)
        self.recent.openRequested.connect(self.open_file)
        self.loader.finished.connect(self._dataset_loaded)
        self.editor.specEdited.connect(self._spec_edited)
        self.settings_panel.learningRateChanged.connect(self.trainer.set_lr)
        self.settings_panel.deviceChanged.connect(self._device_changed)
        self.feature_maps_view.sampleChanged.connect(self.session.choose_sample)
        self.trainer.warming.connect(self.run_bar.show_warming)
        self.trainer.lossUpdated.connect(self._loss_updated)
        self.trainer.epochEnded.connect(self._epoch_ended)
        self.trainer.snapshotReady.connect(self.timeline.live_snapshot)  # held back at a snapshot
        self.trainer.predictionsReady.connect(self.feature_maps_view.set_misclassified)
        self.trainer.failed.connect(lambda exc: error_dialog.report(self, "Training stopped", exc))
        self.trainer.finished.connect(self._training_finished)
        events = self.session.events
        events.network.connect(self._render_network)
        events.dataset.connect(self._render_dataset)
        events.weights_file.connect(self._update_title)
        events.history.connect(self._render_history)
        events.optimizer.connect(self.settings_panel.show_optimizer)
        events.runs.connect(self.notify)
        events.input.connect(self._render_input)

    # -- messages ------------------------------------------------------------------------------

    def show_error(self, title: str, text: str, details: str = "") -> None:
        """The error dialog (:func:`gui.error_dialog.show_error`), its text kept in `last_error`."""
        self.last_error = text
        error_dialog.show_error(self, title, text, details)

    def notify(self, text: str | None) -> None:
        if text:
            self.last_notice = text
            self.statusBar().showMessage(text, 15000)

    # -- rendering the session -----------------------------------------------------------------

    def _render_network(self) -> None:
        """Redraw everything that shows the (idle) network."""
        session, net = self.session, self.session.net
        if self.editor.layer_ids() != session.layer_ids:  # a network from a file
            self.editor.set_spec(session.spec, session.layer_ids)
        self.filters_view.set_layers(net.infos, net.input_shape[0])
        self.feature_maps_view.set_layers(net.infos)
        self._show_snapshot(session.snapshot())
        self.misclassified.network_changed()
        self.device_label.setText(net.backend.description)
        self._update_title()
        self._update_controls()

    def _render_dataset(self) -> None:
        d = self.session.dataset
        self.feature_maps_view.set_data(d.test.x, d.test.y, d.class_names)
        self.editor.blockSignals(True)  # the session fitted the network to the data already
        self.editor.set_data(d.input_shape, d.classes)
        self.editor.blockSignals(False)
        self.data_label.setText(
            f"{d.name} · {len(d.train.x):,} train / {len(d.test.x):,} test · {shape_text(d.input_shape)}"
        )

    def _render_history(self, start: int | None, horizon: int | None) -> None:
        window_layout.build_plots(self)
        if start is None:
            self.loss_plot.clear_data()
            self.accuracy_plot.clear_data()
            self.run_bar.show_outcome("ready")
            return
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.rewind(start)
            plot.set_horizon(horizon)
        self.run_bar.begin(start, horizon - start)

    def _update_controls(self) -> None:
        running = self.trainer.running
        self.run_bar.set_state(running=running, paused=self.trainer.paused, can_train=self.editor.is_valid())
        self.editor.setEnabled(not running)
        self.settings_panel.set_training(running)
        for action in self.acts.file_actions():
            action.setEnabled(not running)
        self.recent.menu.setEnabled(not running and bool(self.recent.paths()))
        self.acts.undo.setEnabled(not running and self.session.can_undo)
        self.acts.redo.setEnabled(not running and self.session.can_redo)

    # -- training ------------------------------------------------------------------------------

    @reports_errors("Cannot start training")
    def start_training(self) -> None:
        if self.trainer.running or not self.editor.is_valid():
            return
        config = self.settings_panel.config()
        answer = confirm.continue_or_restart(self, config.epochs)
        if answer == confirm.CANCEL:
            return
        if answer == confirm.RESTART:
            self.notify(self.session.reset(config))
        index, mistakes = self.session.sample_index, self.feature_maps_view.misclassified_check.isChecked()
        run = self.session.start_run(config, index)
        self.trainer.start(TrainingWorker(run, index, mistakes))
        self.trainer.set_sample(index, self.session.own_image)
        varied = f", varying the images: {config.augment.describe()}" if config.augment.describe() else ""
        self.statusBar().showMessage(f"Training on {run.net.backend.description}{varied}…")
        self._update_controls()

    def _evaluate(self) -> None:
        from gui import evaluation_dialog  # imported when asked for, not before the window is shown

        evaluation_dialog.evaluate(self)

    def toggle_pause(self) -> None:
        if self.trainer.running:
            (self.trainer.resume if self.trainer.paused else self.trainer.pause)()
            self._update_controls()
            self.run_bar.show_paused(self.trainer.paused)
            self.statusBar().showMessage(PAUSED if self.trainer.paused else "Training resumed")

    def stop_training(self) -> None:
        self.trainer.stop()

    def _loss_updated(self, update: LossUpdate) -> None:
        self.loss_plot.append(update.x, update.loss)
        self.last_batch = update.info
        self.run_bar.show_batch(update.info)

    def _epoch_ended(self, info: EpochInfo) -> None:
        self.session.record_epoch(info)
        if info.val_loss is not None:
            self.loss_plot.add_validation(info.epoch, info.val_loss)
        self.accuracy_plot.add_epoch(info)
        val = f", validation {100 * info.val_acc:.1f}%" if info.val_acc is not None else ""
        paused = f". {PAUSED}" if self.trainer.paused else ""
        train = f"train accuracy {100 * info.train_acc:.1f}%"
        self.statusBar().showMessage(f"Epoch {info.epoch}: {train}{val}{paused}")

    def _show_snapshot(self, snapshot: Snapshot) -> None:
        self.filters_view.show_kernels(snapshot.kernels, snapshot.biases)
        self.feature_maps_view.show_maps(snapshot.sample_index, snapshot.maps, snapshot.image)

    def _training_finished(self, history: History | None) -> None:
        # The worker already sent the final views: nothing to recompute here.
        self.run_bar.show_outcome(self.session.finish_run(history))
        self._update_controls()

    def _render_input(self) -> None:
        """The shown input (a test image or the user's own) in the views, or the run's snapshots."""
        session = self.session
        self.feature_maps_view.show_index(session.sample_index)
        if self.trainer.running:
            self.trainer.set_sample(session.sample_index, session.own_image)
        else:
            self._show_snapshot(session.snapshot())

    # -- window state --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._splitters_restored:
            self._splitters_restored = True
            states, wanted = self._splitter_states, self.editor.full_width()
            window_layout.restore_splitters(self, states, self.main_splitter, wanted)
            QTimer.singleShot(0, self, lambda: window_layout.build_after_show(self))

    def save_window_state(self) -> None:
        window_layout.save_window(self, self.preferences)
        self.settings_panel.save(self.preferences)
        self.preferences.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask first when trained weights would be lost; never close under a live thread: while
        a run ends (or before saving what it trained), wait for it, then close again."""
        answer = self._quit_answer or confirm.quit_answer(self)
        self._quit_answer = None
        if answer == confirm.CANCEL:
            event.ignore()
            return
        if self.trainer.running and (answer == confirm.SAVE or not self.trainer.shutdown(2000)):
            event.ignore()
            self._quit_answer = answer
            self.trainer.stop()
            self.trainer.finished.connect(self.close, Qt.ConnectionType.SingleShotConnection)
            self.notify("Stopping the training run before closing…")
            return
        if answer == confirm.SAVE and not self._save():
            event.ignore()
            return
        self.loader.shutdown()
        self.save_window_state()
        event.accept()

    def _save(self) -> bool:
        """Save the weights (asking where when they have no file); whether they are saved now."""
        self.save_weights()
        return not self.session.unsaved
