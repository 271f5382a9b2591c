"""The Runs dock: the runs kept in the runs folder, to rename, delete and pick; the picked runs'
loss and accuracy curves overlaid, each run in a colour of its own, and a table of their settings
(the rows that differ highlighted) and final metrics. It renders a :class:`RunsModel`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs import SUMMARY_COLUMNS, RunRecord, summary_row
from engine.wording import plural
from gui import confirm, theme
from gui.error_dialog import reports_errors
from gui.lazy_dock import BuiltWhenShown
from gui.naming import named
from gui.plain_text import plain
from gui.runs_model import Row, RunsModel

FOLDER_KEY = "runs/folder"
PICK_HINT = "Pick runs in the list (Ctrl or Shift for several) to compare them."
_FOLDER_ROLE = Qt.ItemDataRole.UserRole


def _item(text: str, editable: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if not editable:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class _WrappingTable(QTableWidget):
    """A table whose columns share its width and whose rows grow to their wrapped text, sized
    once the columns have their width (the header stretches them after the table's resize)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._fit = QTimer(self, singleShot=True, interval=0)
        self._fit.timeout.connect(self.resizeRowsToContents)
        self.horizontalHeader().sectionResized.connect(lambda *_: self._fit.start())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit.start()


class RunsDock(BuiltWhenShown):
    """Made empty and hidden (the runs folder the preferences name is the session's at once); its
    list, curves and table are made when first shown."""

    def __init__(self, window: Any):
        super().__init__("Runs", window)
        named(self, "runsDock")
        self.main_window = window
        self.model = RunsModel(window.session)
        #: The runs the curves and the table show, as they were then; None: nothing drawn yet.
        self._compared: list[RunRecord] | None = None
        chosen = window.preferences.text(FOLDER_KEY)
        if chosen:
            window.session.runs_folder = Path(chosen)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        self.hide()
        window.session.events.runs.connect(lambda _: self.refresh())
        self.visibilityChanged.connect(lambda visible: visible and self.refresh())

    def _build(self) -> None:
        self.folder_label = plain(named(QLabel(), "runsFolderLabel"))
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder_button = named(
            QPushButton("Change Folder…"), "runsFolderButton", "Keep runs in another folder and list its runs"
        )
        folder_button.clicked.connect(self._ask_folder)
        self.table = named(QTableWidget(0, len(SUMMARY_COLUMNS)), "runsTable", "The runs kept", "Runs")
        self.table.setHorizontalHeaderLabels(list(SUMMARY_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._picked)
        self.table.itemChanged.connect(self._renamed)
        self.rename_button = named(
            QPushButton("Rename"), "renameRunButton", "Rename the run (F2, or double-click its name)"
        )
        self.delete_button = named(
            QPushButton("Delete…"), "deleteRunButton", "Delete the picked runs, weights and all"
        )
        self.rename_button.clicked.connect(self._start_rename)
        self.delete_button.clicked.connect(self.delete_picked)
        self.message_label = plain(named(QLabel(), "runsMessageLabel"))
        self.message_label.setWordWrap(True)

        from gui.run_curves import curve_plot  # pyqtgraph: imported with the dock's contents

        self.loss_plot = curve_plot("runsLossPlot", "Loss", "loss", legend_at_top=True)
        self.accuracy_plot = curve_plot("runsAccuracyPlot", "Accuracy", "accuracy (%)", legend_at_top=False)
        self.compare_table = named(
            _WrappingTable(), "runsCompareTable", "The picked runs' settings, differences highlighted"
        )
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

        listing = QWidget()
        layout = QVBoxLayout(listing)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(folder_button)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        body = named(QSplitter(Qt.Orientation.Horizontal), "runsSplitter")
        shares = {listing: 3, self.loss_plot: 2, self.accuracy_plot: 2, self.compare_table: 3}
        for widget in shares:
            body.addWidget(widget)
        body.setSizes([100 * share for share in shares.values()])  # in proportion, once shown
        self.setWidget(body)

    # -- the list ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the runs folder's runs again, keeping the pick, while the dock is shown."""
        if not self.isVisible():
            return
        self.model.refresh()
        self._render()

    def _render(self) -> None:
        if not self.built:  # drawn from the model when first shown
            return
        folder = self.model.folder
        self.folder_label.setText(f"Runs in {folder}" if folder else "Runs are not kept in this window")
        picked = {run.folder for run in self.model.picked}
        table = self.table
        table.blockSignals(True)
        table.clearSelection()
        table.setRowCount(len(self.model.runs))
        for r, run in enumerate(reversed(self.model.runs)):  # the newest first
            for c, text in enumerate(summary_row(run)):
                item = _item(text, editable=c == 0)
                item.setData(_FOLDER_ROLE, str(run.folder))
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
            if run.folder in picked:
                self._add_to_selection(r)
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.blockSignals(False)
        self.delete_button.setEnabled(bool(picked))
        self.rename_button.setEnabled(len(picked) == 1)
        skipped = self.model.skipped
        empty = ("No runs yet: each run trained to its end is kept here." if folder else
                 "Change Folder… to keep each run trained to its end.")
        self.message_label.setText("\n".join(skipped) if skipped else "" if self.model.runs else empty)
        self._compare()

    def _add_to_selection(self, row: int) -> None:
        selection = self.table.selectionModel()
        index = self.table.model().index(row, 0)
        flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
        selection.select(index, flags)

    def _folder_of(self, row: int) -> Path:
        return Path(self.table.item(row, 0).data(_FOLDER_ROLE))

    def _picked(self) -> None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        self.model.pick(self._folder_of(row) for row in rows)
        self.delete_button.setEnabled(bool(rows))
        self.rename_button.setEnabled(len(rows) == 1)
        self._compare()

    def _start_rename(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if len(rows) == 1:
            self.table.editItem(self.table.item(rows[0].row(), 0))

    @reports_errors("Cannot rename the run")
    def _renamed(self, item: QTableWidgetItem) -> None:
        folder = Path(item.data(_FOLDER_ROLE))
        if item.column() != 0 or item.text() == self.model.run(folder).name:
            return
        try:
            self.main_window.notify(self.model.rename(folder, item.text()))
        finally:
            self._render()  # the name as it is on disk, whether the rename worked or not

    @reports_errors("Cannot delete the run")
    def delete_picked(self) -> None:
        """Delete the picked runs, once the user agrees."""
        picked = self.model.picked
        if not picked:
            return
        what = f"the run {picked[0].name!r}" if len(picked) == 1 else plural(len(picked), "run")
        answer = confirm.ask(
            self.main_window,
            "Delete runs",
            f"Delete {what}? Its folder, weights included, is removed for good."
            if len(picked) == 1
            else f"Delete {what}? Their folders, weights included, are removed for good.",
            ((confirm.DISCARD, "Delete"), (confirm.CANCEL, "Cancel")),
        )
        if answer != confirm.DISCARD:
            return
        try:
            for run in picked:
                self.main_window.notify(self.model.delete(run.folder))
        finally:
            self._render()

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Keep runs in", str(self.model.folder or Path.home()))
        if folder:
            self.choose_folder(folder)

    def choose_folder(self, folder: str) -> None:
        """Keep runs in `folder` from now on (a preference) and list the runs there."""
        self.main_window.preferences.set(FOLDER_KEY, folder)
        self.main_window.notify(self.model.set_folder(folder))
        self._render()

    def show_error(self, title: str, text: str, details: str = "") -> None:
        self.main_window.show_error(title, text, details)

    # -- the comparison ------------------------------------------------------------------------

    def _compare(self) -> None:
        """Draw the picked runs' curves and table, unless they show these runs as they are: a
        run kept at a training run's end is listed, not picked, so nothing here changes."""
        picked = self.model.picked
        if picked == self._compared:
            return
        self._compared = picked
        from gui.run_curves import draw_curves  # imported already by _build

        curves = self.model.curves()
        draw_curves(self.loss_plot, self.accuracy_plot, curves)
        self._fill_table(self.model.settings_rows(), self.model.metric_rows(), [c.name for c in curves])

    def _fill_table(self, settings: list[Row], metrics: list[Row], names: list[str]) -> None:
        table = self.compare_table
        table.clear()
        if not names:
            table.setRowCount(1)
            table.setColumnCount(1)
            table.setHorizontalHeaderLabels([""])
            table.setVerticalHeaderLabels([""])
            table.setItem(0, 0, _item(PICK_HINT))
            table.resizeRowsToContents()
            return
        section = Row("final metrics", ("",) * len(names))
        rows = [*settings, section, *metrics]
        table.setRowCount(len(rows))
        table.setColumnCount(len(names))
        table.setVerticalHeaderLabels([row.label for row in rows])
        for c, name in enumerate(names):
            header = QTableWidgetItem(name)
            header.setForeground(QBrush(theme.run_colour(c, len(names))))
            table.setHorizontalHeaderItem(c, header)
        bold = QFont(table.font())
        bold.setBold(True)
        differs = QBrush(QColor(theme.DIFFERS))
        for r, row in enumerate(rows):
            for c, text in enumerate(row.values):
                item = _item(text)
                if row.differs:
                    item.setBackground(differs)
                    item.setToolTip("Differs between the picked runs")
                if row.best == c:
                    item.setFont(bold)
                    item.setToolTip("The best of the picked runs")
                table.setItem(r, c, item)
            if row.differs or row is section:
                table.verticalHeaderItem(r).setFont(bold)
        table.resizeRowsToContents()
