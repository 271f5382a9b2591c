"""The window's file actions: open and save weights and networks, open data sets (loaded off the
GUI thread by :class:`gui.data_loading.DataLoader`), the recent files and the last folder used.
Each asks for a path where none is given, calls the session, and reports a failure through the
window's one error helper."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog

from engine import Dataset
from engine.data import reads_images
from engine.errors import AmbiguousLayout
from gui import confirm, image_folder_dialog
from gui.error_dialog import reports_errors
from gui.session import BUILTIN, LoadOptions

WEIGHTS_FILTER = "Weight files (*.safetensors)"
NETWORK_FILTER = "Network (*.json)"
DATA_FILTER = "NumPy archive (*.npz)"
#: The export formats the save dialog offers, and the suffix each adds to a name without it.
EXPORT_FILTERS = {"ONNX model (*.onnx)": ".onnx", "PyTorch source (*.py)": ".py"}
#: What opening weights or a network does to unsaved trained weights (see confirm.may_discard).
REPLACES = "Opening the file replaces them."


class FileActions:
    """Mixed into the main window, whose session, preferences, recent files, trainer, data loader,
    editor and settings panel it uses."""

    def _update_title(self) -> None:
        """The data set and the weights' file, `*` once they differ from it; "untitled*" for
        trained weights in no file."""
        path = self.session.weights_path
        changed = self.session.dirty if path else self.session.unsaved
        name = os.path.basename(path) if path else "untitled" if changed else ""
        file = f" — {name}{'*' if changed else ''}" if name else ""
        self.setWindowTitle(f"ConvScope — {self.session.dataset.name}{file}")

    def _ask(self, title: str, file_filter: str, save: bool = False) -> str:
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        return ask(self, title, self._last_dir(), file_filter)[0]

    def _last_dir(self) -> str:
        folder = self.preferences.text("lastDirectory")
        return folder if folder and os.path.isdir(folder) else os.getcwd()

    def _remember(self, path: str, recent: bool = True) -> None:
        self.preferences.set("lastDirectory", os.path.dirname(os.path.abspath(path)))
        if recent:
            self.recent.add(path)

    @reports_errors("Cannot open the weight file")
    def open_weights(self, path: str | None = None) -> None:
        path = path or self._ask("Open weights", WEIGHTS_FILTER)
        if path and not self.trainer.running and confirm.may_discard(self, REPLACES):
            self.notify(self.session.open_weights(path))
            self._remember(path)

    def save_weights(self) -> None:
        if self.session.weights_path is None:
            self.save_weights_as()
        else:
            self._write_weights(self.session.weights_path)

    def save_weights_as(self, path: str | None = None) -> None:
        path = path or self._ask("Save weights", WEIGHTS_FILTER, save=True)
        if path:
            self._write_weights(path if path.endswith(".safetensors") else path + ".safetensors")

    @reports_errors("Cannot save the weights")
    def _write_weights(self, path: str) -> None:
        if not self.trainer.running:
            self.notify(self.session.save_weights(path))
            self._remember(path)

    @reports_errors("Cannot open the network")
    def open_network(self, path: str | None = None) -> None:
        path = path or self._ask("Open network", NETWORK_FILTER)
        if path and not self.trainer.running and confirm.may_discard(self, REPLACES):
            self.notify(self.session.open_network(path, self.settings_panel.config()))
            self._remember(path)

    @reports_errors("Cannot save the network")
    def save_network(self, path: str | None = None) -> None:
        path = path or self._ask("Save network", NETWORK_FILTER, save=True)
        if path:
            self.notify(self.session.save_network(self.editor.spec(), path))
            self._remember(path, recent=False)

    @reports_errors("Cannot export the network")
    def export_network(self, path: str | None = None) -> None:
        """ONNX or PyTorch source, as the chosen file's suffix (or filter) says; the session checks
        an ONNX file against the network."""
        if path is None:
            filters = ";;".join(EXPORT_FILTERS)
            path, chosen = QFileDialog.getSaveFileName(self, "Export the network", self._last_dir(), filters)
            if path and os.path.splitext(path)[1].lower() not in EXPORT_FILTERS.values():
                path += EXPORT_FILTERS.get(chosen, ".onnx")
        if path and not self.trainer.running:
            self.notify(self.session.export(path))
            self._remember(path, recent=False)

    def _ask_data_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a folder of images, CIFAR-10/100 or IDX files", self._last_dir()
        )
        if path:
            self.open_dataset(path)

    def _ask_data_file(self) -> None:
        path = self._ask("Open a data set", DATA_FILTER)
        if path:
            self.open_dataset(path)

    @reports_errors("Cannot open the data set")
    def open_dataset(self, source: str, options: LoadOptions | None = None) -> None:
        """Load a data set on a thread of its own (asking a folder of images' colour and size
        first); once loaded, the network's input and output are fitted to it."""
        consequence = "A new data set starts a new run and re-initialises the layers that no longer fit."
        if self.trainer.running or self.loader.running or not confirm.may_discard(self, consequence):
            return
        if options is None and source != BUILTIN and reads_images(source):
            options = image_folder_dialog.ask(source, self)
            if options is None:
                return
        name = "the built-in MNIST sample" if source == BUILTIN else os.path.basename(source)
        self.loader.start(source, options or LoadOptions(), name)

    @reports_errors("Cannot open the data set")
    def _dataset_loaded(self, source: str, result: Dataset | Exception | None) -> None:
        if result is None:
            name = os.path.basename(source)
            self.notify(f"Cancelled loading {name}; the data set is still {self.session.dataset.name}.")
        elif isinstance(result, AmbiguousLayout):
            layout = confirm.layout_of(self, result.readings)
            if layout != confirm.CANCEL:
                self.loader.start(source, LoadOptions(layout=layout), os.path.basename(source))
        elif isinstance(result, Exception):
            raise result
        else:
            self.notify(self.session.use_dataset(result, self.editor.spec(), self.editor.layer_ids()))
            if source != BUILTIN:
                self._remember(source)

    def open_file(self, path: str) -> None:
        """Open a weight file, a network or a data set by its name (a recent file's, or one given
        on the command line), as File's matching entry would."""
        if path.endswith(".safetensors"):
            self.open_weights(path)
        elif path.endswith(".json"):
            self.open_network(path)
        else:
            self.open_dataset(path)
