"""The kernel explainer: the input with its padding ring and the window on it, the arithmetic
that turns the window into one output cell, and the output map filling in cell by cell. It
renders an :class:`ExplainerModel` and turns the user's clicks into the model's steps."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.explain import ConvCell, ConvExplainer, PoolCell
from gui.cell_grid import CellGrid, number_text
from gui.explainer_model import NOTES, ExplainerModel, WhatIf
from gui.naming import named

SAME = -1  # the padding spin's value that means 'same'


def _spin(name: str, tip: str, low: int, high: int, value: int) -> QSpinBox:
    spin = named(QSpinBox(), name, tip, tip)
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def conv_text(cell: ConvCell, channel: int) -> str:
    """The cell's arithmetic written out: the shown channel's products, every channel's sum,
    the total with the bias, and the activation."""
    lines = []
    channels = len(cell.channel_sums)
    terms = " + ".join(
        f"{number_text(w)}·{number_text(x)}"
        for w, x in zip(cell.weights[channel].ravel(), cell.window[channel].ravel(), strict=True)
    )
    where = f" (channel {channel})" if channels > 1 else ""
    lines.append(f"Σ w·x{where} = {terms} = {number_text(cell.channel_sums[channel])}")
    if channels > 1:
        sums = " + ".join(number_text(s) for s in cell.channel_sums)
        lines.append(f"per channel: {sums} = {number_text(float(cell.channel_sums.sum()))}")
        sum_text = number_text(float(cell.channel_sums.sum()))
    else:
        sum_text = number_text(cell.channel_sums[0])
    lines.append(f"Σ w·x + b = {sum_text} + {number_text(cell.bias)} = {number_text(cell.total)}")
    if cell.activation != "linear":
        lines.append(f"{cell.activation}({number_text(cell.total)}) = {number_text(cell.output)}")
    lines.append(f"{cell_text(cell)} = {number_text(cell.output)}")
    return "\n".join(lines)


def cell_text(cell: ConvCell | PoolCell) -> str:
    """The output cell, counted from 0 as the filters, feature maps and layers are."""
    return f"output cell at row {cell.row}, column {cell.col}"


def pool_text(cell: PoolCell) -> str:
    values = ", ".join(number_text(v) for v in cell.window.ravel())
    return (
        f"{cell.mode}({values}) = {number_text(cell.output)}\n"
        f"{cell_text(cell)} = {number_text(cell.output)}"
    )


class KernelExplainerView(QWidget):
    def __init__(self, model: ExplainerModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "kernelExplainer", accessible="Kernel explainer")
        self.model = model or ExplainerModel()
        self.source_combo = named(QComboBox(), "explainSource", "What to explain", "Explained layer")
        # counted from 0, as the filters and feature maps views count them
        self.filter_spin = _spin("explainFilter", "Filter (conv) or feature map (pool)", 0, 0, 0)
        self.channel_spin = _spin("explainChannel", "Input channel shown", 0, 0, 0)
        self.back_button = named(QToolButton(), "explainBack", "One cell back", "Step back")
        self.forward_button = named(QToolButton(), "explainForward", "One cell on", "Step forward")
        self.play_button = named(QToolButton(), "explainPlay", "Play or pause the walk", "Play")
        self.back_button.setText("◀")
        self.forward_button.setText("▶")
        self.play_button.setText("Play")
        self.play_button.setCheckable(True)
        self.speed_spin = _spin("explainSpeed", "Steps per second while playing", 1, 20, 2)
        self.what_if_check = named(QCheckBox("What if"), "explainWhatIf", "Try another geometry")
        self.stride_spin = _spin("explainStride", "What-if stride", 1, 16, 1)
        padding_tip = "What-if padding (conv): 'same', or pixels on every side"
        self.padding_spin = _spin("explainPadding", padding_tip, SAME, 16, 0)
        self.padding_spin.setSpecialValueText("same")
        self.size_spin = _spin("explainSize", "What-if kernel (conv) or window (pool) size", 1, 16, 2)
        self.size_label = QLabel("kernel")
        self.formula_label = named(QLabel(), "explainFormula")
        self.input_grid = named(CellGrid(), "explainInput", "The padded input and the window")
        self.output_grid = named(CellGrid(), "explainOutput", "The output map; click a cell to jump to it")
        self.kernel_grid = named(CellGrid(), "explainKernel", "The filter's weights for the shown channel")
        self.products_grid = named(CellGrid(), "explainProducts", "Each weight times the value under it")
        self.kernel_label, self.products_label = QLabel(), QLabel()
        self.arithmetic_label = named(QLabel(), "explainArithmetic")
        self.arithmetic_label.setWordWrap(True)
        self.arithmetic_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timer = QTimer(self)
        #: The layer's own geometry while "what if" is on (None: off).
        self._own: WhatIf | None = None
        self._map_cache: tuple[object, int, np.ndarray] | None = None
        self._layout()
        self._connect()
        self.set_sources([])

    def _layout(self) -> None:
        top = QHBoxLayout()
        for label, widget in (
            (None, self.source_combo),
            ("Filter", self.filter_spin),
            ("Channel", self.channel_spin),
            (None, self.back_button),
            (None, self.play_button),
            (None, self.forward_button),
            ("Steps/s", self.speed_spin),
        ):
            if label:
                top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addStretch(1)
        what_if = QHBoxLayout()
        what_if.addWidget(self.what_if_check)
        spins = ((QLabel("stride"), self.stride_spin), (QLabel("padding"), self.padding_spin))
        for label, spin in (*spins, (self.size_label, self.size_spin)):
            what_if.addWidget(label)
            what_if.addWidget(spin)
        what_if.addWidget(self.formula_label, 1)
        grids = QGridLayout()
        for column, (label, grid, stretch) in enumerate(
            (
                (QLabel("Input (padding orange, window yellow)"), self.input_grid, 3),
                (self.kernel_label, self.kernel_grid, 1),
                (self.products_label, self.products_grid, 1),
                (QLabel("Output (click a cell)"), self.output_grid, 3),
            )
        ):
            grids.addWidget(label, 0, column)
            grids.addWidget(grid, 1, column)
            grids.setColumnStretch(column, stretch)
        for grid in (self.kernel_grid, self.products_grid):
            grid.setMinimumSize(60, 60)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(what_if)
        layout.addLayout(grids, 1)
        layout.addWidget(self.arithmetic_label)

    def _connect(self) -> None:
        m = self.model
        m.changed.connect(self.render)
        self.source_combo.currentIndexChanged.connect(lambda _: self._choose(self.source_combo.currentData()))
        self.filter_spin.valueChanged.connect(m.set_filter)
        self.channel_spin.valueChanged.connect(lambda _: self.render())
        self.back_button.clicked.connect(lambda: m.step(-1))
        self.forward_button.clicked.connect(lambda: m.step(1))
        self.output_grid.cellClicked.connect(m.jump)
        self.play_button.toggled.connect(self._play)
        self.speed_spin.valueChanged.connect(lambda v: self.timer.setInterval(1000 // v))
        self.timer.setInterval(1000 // self.speed_spin.value())
        self.timer.timeout.connect(self._tick)
        self.what_if_check.toggled.connect(self._what_if_toggled)
        for spin in (self.stride_spin, self.padding_spin, self.size_spin):
            spin.valueChanged.connect(self._apply_what_if)

    def set_sources(self, names: list[tuple[int, str]]) -> None:
        """The explainable layers (index, name) offered beside the notes' example; keeps the
        current choice when it is still offered."""
        current = self.model.source
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self.source_combo.addItem("Notes' 5×5 example", NOTES)
        for index, name in names:
            self.source_combo.addItem(name, index)
        found = self.source_combo.findData(current)
        self.source_combo.setCurrentIndex(max(found, 0))
        self.source_combo.blockSignals(False)
        if found < 0 and current != NOTES:
            self.model.choose(NOTES)
        else:
            self.render()

    def _choose(self, source: int) -> None:
        """Explain `source`; a what-if under way starts again from its geometry."""
        self.model.choose(source)
        if self.what_if_check.isChecked():
            self._what_if_toggled(True)

    # -- play and what if ----------------------------------------------------------------------

    def _play(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on and self.model.position == self.model.cells - 1:
            self.model.jump(0, 0)
        self.timer.start() if on else self.timer.stop()

    def _tick(self) -> None:
        if not self.model.step():
            self.play_button.setChecked(False)

    def _what_if_toggled(self, on: bool) -> None:
        """Start the what-if from the layer's own geometry."""
        self._own = self.model.own_geometry() if on else None
        if self._own is not None:
            for spin, value in (
                (self.stride_spin, self._own.stride[0]),
                (self.padding_spin, SAME if self._own.padding == "same" else self._own.padding),
                (self.size_spin, self._own.size[0]),
            ):
                spin.blockSignals(True)
                spin.setValue(value)
                spin.blockSignals(False)
        self._apply_what_if()

    def _apply_what_if(self) -> None:
        """The spins' geometry, square; a spin still at the layer's own value keeps the layer's
        own pair (a 3×5 kernel stays 3×5 until the kernel is changed)."""
        if self._own is None:
            if self.model.what_if is not None:
                self.model.set_what_if(None)
            return
        own, conv = self._own, isinstance(self.model.explainer, ConvExplainer)
        s, k, p = self.stride_spin.value(), self.size_spin.value(), self.padding_spin.value()
        stride = own.stride if s == own.stride[0] else (s, s)
        size = own.size if k == own.size[0] else (k, k)
        padding = ("same" if p == SAME else p) if conv else 0
        self.model.set_what_if(WhatIf(stride, padding, size))

    # -- rendering -----------------------------------------------------------------------------

    def _map(self, explainer: object, f: int) -> np.ndarray:
        """Filter `f`'s whole output, worked out once per explainer and filter."""
        if self._map_cache is None or self._map_cache[:2] != (explainer, f):
            self._map_cache = (explainer, f, explainer.feature_map(f))
        return self._map_cache[2]

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.render()

    def render(self) -> None:
        """Draw the model; only while shown (a run's snapshots change it twice a second, and
        the output map is worked out cell by cell), and again when shown."""
        if not self.isVisible():
            return
        m, e = self.model, self.model.explainer
        conv = isinstance(e, ConvExplainer)
        self.filter_spin.blockSignals(True)
        self.filter_spin.setRange(0, e.filters - 1)
        self.filter_spin.setValue(m.filter)
        self.filter_spin.blockSignals(False)
        self.channel_spin.setRange(0, e.image.shape[0] - 1)
        self.channel_spin.setEnabled(conv)
        self.padding_spin.setEnabled(conv and self.what_if_check.isChecked())
        self.size_spin.setEnabled(self.what_if_check.isChecked())
        self.size_label.setText("kernel" if conv else "window")
        self.stride_spin.setEnabled(self.what_if_check.isChecked())
        self.formula_label.setText("    ".join(m.formulas()))
        channel = self.channel_spin.value() if conv else m.filter
        rows, cols = e.rows, e.cols
        ring = (rows.before, rows.after, cols.before, cols.after)
        cell = m.cell()
        out_h, out_w = e.output_shape
        filled = np.full((max(out_h, 1), max(out_w, 1)), np.nan, dtype=np.float32)
        if cell is None:
            self.input_grid.show_values(e.padded[channel], ring)
            self.output_grid.show_values(filled)
            self.arithmetic_label.setText("The window does not fit: no output cells.")
            self.back_button.setEnabled(False)
            self.forward_button.setEnabled(False)
            return
        filled.ravel()[: m.position + 1] = self._map(e, m.filter).ravel()[: m.position + 1]
        i, j = m.at
        window = (rows.start(i), cols.start(j), rows.k, cols.k)
        marked = None
        if isinstance(cell, PoolCell) and cell.kept_at is not None:
            marked = (window[0] + cell.kept_at[0], window[1] + cell.kept_at[1])
        self.input_grid.show_values(e.padded[channel], ring, window, marked)
        for widget in (self.kernel_grid, self.products_grid, self.kernel_label, self.products_label):
            widget.setVisible(conv)
        if conv:
            self.kernel_grid.show_values(cell.weights[channel])
            self.products_grid.show_values(cell.products[channel])
            self.kernel_label.setText(f"Kernel w, b = {number_text(cell.bias)}")
            self.products_label.setText(f"w·x, Σ = {number_text(cell.channel_sums[channel])}")
        self.output_grid.show_values(filled, window=(i, j, 1, 1))
        self.arithmetic_label.setText(conv_text(cell, channel) if conv else pool_text(cell))
        self.back_button.setEnabled(m.position > 0)
        self.forward_button.setEnabled(m.position < m.cells - 1)
