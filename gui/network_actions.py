"""The window's network actions: edits from the editor, undo and redo, the default network,
reset and device. Each calls the session and shows its notice; a failure goes through the
window's one error helper."""

from __future__ import annotations

from collections.abc import Callable

from gui import confirm
from gui.error_dialog import reports_errors
from gui.window_layout import show_last_valid


class NetworkActions:
    """Mixed into the main window, whose session, editor, trainer and settings panel it uses."""

    @reports_errors("Cannot build the network")
    def _spec_edited(self) -> None:
        self._update_controls()
        show_last_valid(self, not self.editor.is_valid())
        if not self.trainer.running and self.editor.is_valid():
            self.notify(self.session.edit(self.editor.spec(), self.editor.layer_ids()))

    def _from_session(self, operation: Callable[[], str]) -> None:
        """Run a session operation that replaces the network, and show its network in the editor."""
        if not self.trainer.running:
            self.notify(operation())
            self.editor.set_spec(self.session.spec, self.session.layer_ids, self.editor.current_row())
            show_last_valid(self, False)
            self._update_controls()

    @reports_errors("Cannot undo")
    def undo_edit(self) -> None:
        self._from_session(self.session.undo)

    @reports_errors("Cannot redo")
    def redo_edit(self) -> None:
        self._from_session(self.session.redo)

    @reports_errors("Cannot restore the default network")
    def restore_default_network(self) -> None:
        self._from_session(self.session.restore_default)

    def _device_changed(self, device: str) -> None:
        if not self._change_device(device):
            self.settings_panel.set_device(self.session.net.backend.name)

    @reports_errors("Device unavailable")
    def _change_device(self, device: str) -> bool:
        self.notify(self.session.change_device(device))
        return True

    @reports_errors("Cannot reset the weights")
    def reset_weights(self) -> None:
        if self.trainer.running or not self.editor.is_valid():
            return
        if confirm.may_discard(self, "Reset re-initialises every weight and clears the history."):
            self.notify(self.session.reset(self.settings_panel.config()))
