"""The confusion matrix of one pass over the test split, drilled down: counts (or each true
class's shares), per-class precision, recall and accuracy beside each row, and the test images
behind a clicked cell as thumbnails, the most confident first (off the diagonal: the most
confident mistakes). The figures are :mod:`engine.evaluation`'s; this view only draws them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation import (
    MAX_SHOWN_CLASSES,
    Evaluation,
    accuracy_line,
    matrix_not_shown,
    percent,
    row_normalised,
)
from engine.wording import plural
from gui import theme
from gui.naming import named
from gui.plain_text import plain, tooltip

#: A cell's thumbnails are listed up to this many (the most confident first).
THUMBNAILS_SHOWN = 200
THUMBNAIL_SIZE = 56
METRICS = ("images", "precision", "recall", "accuracy")
ZERO = "#a0a0a0"  # the text of an empty cell, so the eye goes to those that are not
AXES = "Rows: the true class; columns: the class predicted."
_INDEX = Qt.ItemDataRole.UserRole


def thumbnail(image: np.ndarray) -> QImage:
    """A test image (C, H, W) stretched to its own range: grey, or colour for three channels."""
    low, high = float(image.min()), float(image.max())
    pixels = (image - low) / (high - low if high > low else 1.0)
    pixels = np.ascontiguousarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0))
    h, w, c = pixels.shape
    if c == 3:
        return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    grey = np.ascontiguousarray(pixels[..., 0])
    return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def _shade(colour: str, share: float) -> QColor:
    """`colour` as strong as `share` (0-1) over the white background, faint but seen above 0."""
    shade = QColor(colour)
    shade.setAlphaF(0.0 if share <= 0 else 0.12 + 0.78 * min(share, 1.0))
    return shade


def _set_item(
    table: QTableWidget, row: int, column: int, text: str, tip: str, selectable: bool = False
) -> QTableWidgetItem:
    """Cell (row, column) of `table` reading `text`: its item is made once and then only
    updated, since a run redraws the matrix at every epoch's end."""
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem()
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        flags = Qt.ItemFlag.ItemIsEnabled
        item.setFlags(flags | Qt.ItemFlag.ItemIsSelectable if selectable else flags)
        table.setItem(row, column, item)
    item.setText(text)
    item.setToolTip(tooltip(tip))
    return item


class ConfusionView(QWidget):
    """`show_evaluation` draws a pass; clicking a cell lists its images; choosing one emits
    `imageChosen` with its index in the test split."""

    imageChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "confusionView", accessible="Confusion matrix")
        self._result: Evaluation | None = None
        self._names: list[str] = []
        self._images: np.ndarray | None = None
        self._cell: tuple[int, int] | None = None
        #: The test images' thumbnails by index, made once per set of images: each epoch's
        #: redraw lists mostly the same images again.
        self._icons: dict[int, QIcon] = {}
        self.header = plain(named(QLabel(), "confusionHeader", "Accuracy and loss on the test split"))
        self.header.setWordWrap(True)
        self.normalise_check = named(
            QCheckBox("Row shares"),
            "confusionNormalise",
            "Show each true class's row as shares of its images instead of counts",
        )
        self.normalise_check.toggled.connect(lambda _: self._draw_matrix())
        self.table = named(
            QTableWidget(),
            "confusionTable",
            "Rows: the true class; columns: the class predicted. Click a cell to see its images",
            "Confusion matrix",
        )
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.currentCellChanged.connect(lambda row, column, *_: self.select_cell(row, column))
        self.cell_label = plain(named(QLabel(), "confusionCellLabel"))
        self.cell_label.setWordWrap(True)
        self.thumbnails = named(
            QListWidget(),
            "confusionThumbnails",
            "The cell's test images, the most confident first; click one to show it in the feature maps",
            "Test images of the cell",
        )
        self.thumbnails.setViewMode(QListWidget.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.thumbnails.setMovement(QListWidget.Movement.Static)
        self.thumbnails.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.thumbnails.setUniformItemSizes(True)
        self.thumbnails.currentItemChanged.connect(self._thumbnail_chosen)  # clicks and arrow keys
        self.thumbnails.itemClicked.connect(self._thumbnail_chosen)  # the current one again

        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.normalise_check)
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.cell_label)
        below_layout.addWidget(self.thumbnails, 1)
        split = named(QSplitter(Qt.Orientation.Vertical), "confusionSplitter")
        split.setChildrenCollapsible(False)
        split.addWidget(self.table)
        split.addWidget(below)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    @property
    def result(self) -> Evaluation | None:
        """The pass drawn, or None."""
        return self._result

    @property
    def cell(self) -> tuple[int, int] | None:
        """The clicked cell (true class, predicted class), or None."""
        return self._cell

    def thumbnail_indices(self) -> list[int]:
        """The listed images' indices in the test split, in the order shown."""
        return [self.thumbnails.item(i).data(_INDEX) for i in range(self.thumbnails.count())]

    def clear(self, message: str) -> None:
        """No pass to show: say why (and what fills it). A clicked cell stays clicked for the
        next pass (a run's next epoch)."""
        if self._result is None and self.header.text() == message:
            return  # said already
        self._result = None
        self.header.setText(message)
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self._list_cell()

    def show_evaluation(self, result: Evaluation, when: str, names: list[str], images: np.ndarray) -> None:
        """Draw a pass over the test split (`images`, whose classes are `names`); a clicked cell
        stays clicked, its images listed afresh, while the classes stay the same."""
        if self._cell is not None and max(self._cell) >= result.classes:
            self._cell = None
        if images is not self._images:
            self._icons = {}
        if result.classes > MAX_SHOWN_CLASSES:
            scores = accuracy_line(result).capitalize()
            self.clear(f"Test split, {when}. {scores}\n{matrix_not_shown(result.classes)}")
            return
        self._result, self._names, self._images = result, names, images
        self.header.setText(f"Test split, {when}. {accuracy_line(result).capitalize()}\n{AXES}")
        self._draw_matrix()
        self._list_cell()

    def select_cell(self, true: int, predicted: int) -> None:
        """List cell (true, predicted)'s images (clicked, or reached with the arrow keys); a
        metric column lists nothing new."""
        classes = 0 if self._result is None else self._result.classes
        if not (0 <= true < classes and 0 <= predicted < classes):
            return
        self._cell = (true, predicted)
        self.table.blockSignals(True)
        self.table.setCurrentCell(true, predicted)
        self.table.blockSignals(False)
        self._list_cell()

    def _draw_matrix(self) -> None:
        result, names = self._result, self._names
        if result is None:
            return
        k = result.classes
        counts = result.counts
        shares = row_normalised(counts)
        # Mistakes are shaded against the largest: the worst confusion stands out however rare.
        worst = float((shares - np.diag(np.diag(shares))).max()) or 1.0
        metrics = result.metrics()
        normalised = self.normalise_check.isChecked()
        table = self.table
        table.blockSignals(True)
        if (table.rowCount(), table.columnCount()) != (k, k + len(METRICS)):
            table.setRowCount(k)
            table.setColumnCount(k + len(METRICS))
        table.setHorizontalHeaderLabels([*names, *METRICS])
        table.setVerticalHeaderLabels(names)
        for true in range(k):
            for predicted in range(k):
                n = int(counts[true, predicted])
                text = f"{shares[true, predicted]:.0%}" if normalised else f"{n:,}"
                tip = (
                    f"{plural(n, 'test image')} of class {names[true]} predicted {names[predicted]}"
                    f" ({shares[true, predicted]:.1%} of the class)"
                )
                item = _set_item(table, true, predicted, text, tip, selectable=True)
                share = float(shares[true, predicted])
                if true == predicted:
                    item.setBackground(_shade(theme.CORRECT, share))
                else:
                    item.setBackground(_shade(theme.WRONG, share / worst))
                item.setData(Qt.ItemDataRole.ForegroundRole, QColor(ZERO) if n == 0 else None)
            figures = (
                f"{int(metrics.support[true]):,}",
                percent(metrics.precision[true]),
                percent(metrics.recall[true]),
                percent(metrics.accuracy[true]),
            )
            for column, text in enumerate(figures):
                item = _set_item(table, true, k + column, text, f"{METRICS[column]} of class {names[true]}")
                item.setForeground(QColor(theme.FOREGROUND))
                item.setBackground(QColor("#f0f0f0"))
        table.resizeColumnsToContents()
        if self._cell is not None:
            table.setCurrentCell(*self._cell)
        table.blockSignals(False)

    def _list_cell(self) -> None:
        """Thumbnails of the clicked cell's images, the most confident first."""
        self.thumbnails.blockSignals(True)
        self.thumbnails.clear()
        self.thumbnails.blockSignals(False)
        result, cell = self._result, self._cell
        if result is None or cell is None or self._images is None:
            self.cell_label.setText("Click a cell to see its test images." if result is not None else "")
            return
        true, predicted = cell
        which = result.cell(true, predicted)
        names = self._names
        kind = "right" if true == predicted else "mistaken"
        shown = f", the first {THUMBNAILS_SHOWN:,} shown" if len(which) > THUMBNAILS_SHOWN else ""
        listed = f"{shown}, the most confident {kind} first. Click one to show it in the feature maps."
        cell = f"True {names[true]}, predicted {names[predicted]}"
        count = plural(len(which), "test image") + listed if len(which) else "no test images."
        self.cell_label.setText(f"{cell}: {count}")
        self.thumbnails.blockSignals(True)
        for index in which[:THUMBNAILS_SHOWN]:
            confidence = float(result.probabilities[index, predicted])
            icon = self._icons.get(index)
            if icon is None:
                icon = self._icons[index] = QIcon(QPixmap.fromImage(thumbnail(self._images[index])))
            item = QListWidgetItem(icon, f"{confidence:.0%}")
            item.setData(_INDEX, int(index))
            item.setToolTip(tooltip(
                f"Test image {index + 1:,}: true {names[true]}, predicted {names[predicted]} "
                f"with {confidence:.1%}"
            ))
            self.thumbnails.addItem(item)
        self.thumbnails.setCurrentRow(-1)
        self.thumbnails.blockSignals(False)

    def _thumbnail_chosen(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            self.imageChosen.emit(int(item.data(_INDEX)))
