"""The network editor: the layers as a reorderable list, the selected layer's fields as proper
editors, and every layer's output shape and parameter count recomputed by the engine on each edit.

An invalid network is shown, never raised: the offending row is marked and the engine's message
is printed under the list, in place of the parameter count and memory (which an invalid network
does not have), in a box of fixed height that scrolls, so no control moves under the mouse; and
`is_valid()` tells the window to keep Train disabled.

A number is applied when it is finished: Enter, leaving the field, an arrow step, or a pause in
typing (`PAUSE_MS`), never at each keystroke (typing 29 must not build a kernel-2 network first)."""

from __future__ import annotations

import copy
import re
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data import MAX_CLASSES
from engine.errors import LimitError
from engine.limits import estimate
from engine.spec import ACTIVATIONS, POOL_MODES, LayerInfo, check, describe, shape_text
from gui.naming import named
from gui.plain_text import tooltip

NEW_LAYERS: dict[str, dict[str, Any]] = {
    "conv": {"type": "conv", "filters": 8, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"},
    "pool": {"type": "pool", "mode": "max", "size": 2},
    "dense": {"type": "dense", "units": 64, "activation": "relu", "dropout": 0.0},
}
PAUSE_MS = 1200
_LAYER_IN_MESSAGE = re.compile(r"^layer (\d+)\b")
ID_ROLE = Qt.ItemDataRole.UserRole


def apply_when_finished(spin: QAbstractSpinBox) -> QAbstractSpinBox:
    """`valueChanged` on Enter, focus out or an arrow step (no keyboard tracking), and after a
    pause of `PAUSE_MS` in typing."""
    spin.setKeyboardTracking(False)
    pause = QTimer(spin)
    pause.setSingleShot(True)
    pause.setInterval(PAUSE_MS)
    pause.timeout.connect(spin.interpretText)
    spin.lineEdit().textEdited.connect(pause.start)
    spin.editingFinished.connect(pause.stop)
    return spin


class _LayerList(QTreeWidget):
    """A flat list whose rows can be dragged into a new order (never nested)."""

    reordered = Signal(list)  # the layer ids in their new order

    def dropEvent(self, event: QDropEvent) -> None:
        super().dropEvent(event)
        ids = [self.topLevelItem(i).data(0, ID_ROLE) for i in range(self.topLevelItemCount())]
        self.reordered.emit(ids)


class _PairSpin(QWidget):
    """Two spin boxes, height × width, for a field that is a [height, width] pair (pool size and
    stride); emits the pair on every change."""

    valueChanged = Signal(list)

    def __init__(self, low: int, high: int, suffix: str = ""):
        super().__init__()
        self.height_spin = NetworkEditor._spin(low, high)
        self.width_spin = NetworkEditor._spin(low, high, suffix)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.height_spin, 1)
        row.addWidget(QLabel("×"))
        row.addWidget(self.width_spin, 1)
        for spin in (self.height_spin, self.width_spin):
            spin.valueChanged.connect(lambda _: self.valueChanged.emit(self.value()))

    def value(self) -> list[int]:
        return [self.height_spin.value(), self.width_spin.value()]

    def setValue(self, value: int | list[int]) -> None:
        height, width = (value, value) if isinstance(value, int) else value
        for spin, v in ((self.height_spin, height), (self.width_spin, width)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)


class NetworkEditor(QWidget):
    """Edits a spec; each layer keeps an id across reorder, insert and remove, so the window can
    tell which learned weights still belong to which layer."""

    specEdited = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._input: list[int] = [1, 28, 28]
        self._classes = 10
        self._data_classes: int | None = None
        self._layers: list[dict[str, Any]] = []
        self._ids: list[int] = []
        self._next_id = 0
        self._infos: list[LayerInfo] = []
        self._problems: list[str] = []
        self._fields: dict[str, dict[str, QWidget]] = {}

        self.input_label = named(
            QLabel(),
            "inputShapeLabel",
            "The shape of one input image and the number of classes, from the data set",
        )

        self.layer_list = named(
            _LayerList(), "layerList", "The network's layers in order; drag a row to move it", "Layers"
        )
        self.layer_list.setColumnCount(3)
        self.layer_list.setHeaderLabels(["Layer", "Output", "Params"])
        self.layer_list.setRootIsDecorated(False)
        self.layer_list.setUniformRowHeights(True)
        self.layer_list.setAlternatingRowColors(True)
        self.layer_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.layer_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.layer_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.layer_list.currentItemChanged.connect(self._show_fields)
        self.layer_list.reordered.connect(self._reorder)

        add_row = QHBoxLayout()
        add_row.setSpacing(4)
        edit_row = QHBoxLayout()
        edit_row.setSpacing(4)
        self.add_buttons: dict[str, QPushButton] = {}
        for kind, tip in (
            ("conv", "Add a convolutional layer after the selected one"),
            ("pool", "Add a pooling layer after the selected one"),
            ("dense", "Add a fully connected layer after the selected one"),
        ):
            button = self._button(f"+ {kind.capitalize()}", f"add{kind.capitalize()}Button", tip)
            button.clicked.connect(lambda _=False, k=kind: self.add_layer(k))
            self.add_buttons[kind] = button
            add_row.addWidget(button)
        self.up_button = self._button("▲", "moveUpButton", "Move the selected layer up")
        self.down_button = self._button("▼", "moveDownButton", "Move the selected layer down")
        self.remove_button = self._button("Remove", "removeLayerButton", "Remove the selected layer")
        self.up_button.clicked.connect(lambda: self.move_layer(-1))
        self.down_button.clicked.connect(lambda: self.move_layer(1))
        self.remove_button.clicked.connect(self.remove_layer)
        for button in (self.up_button, self.down_button, self.remove_button):
            edit_row.addWidget(button)

        self.total_label = named(
            QLabel(), "totalParamsLabel", "Learned parameters (weights and biases) in the whole network"
        )
        self.memory_label = named(
            QLabel(),
            "memoryLabel",
            "The memory the network needs: its parameters, and the feature maps and buffers of one "
            "training image (a batch needs that many times its size)",
        )
        self.problem_label = named(QLabel(), "problemLabel")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c0392b;")
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        problem_area = named(QScrollArea(), "problemArea", "What keeps this network from training")
        problem_area.setWidget(self.problem_label)
        problem_area.setWidgetResizable(True)
        problem_area.setFrameShape(QScrollArea.Shape.NoFrame)
        summary = QWidget()
        summary_layout = QVBoxLayout(summary)
        summary_layout.setContentsMargins(0, 0, 0, 0)
        summary_layout.addWidget(self.total_label)
        summary_layout.addWidget(self.memory_label)
        #: The totals, or the problems in their place; its height never changes.
        self.summary_stack = QStackedWidget()
        self.summary_stack.addWidget(summary)
        self.summary_stack.addWidget(problem_area)
        self.summary_stack.setFixedHeight(summary.sizeHint().height())

        self.field_stack = QStackedWidget()
        self.field_stack.addWidget(QLabel("Select a layer to edit its settings."))
        for kind, build in (
            ("conv", self._conv_form),
            ("pool", self._pool_form),
            ("dense", self._dense_form),
            ("softmax", self._softmax_form),
        ):
            self.field_stack.addWidget(self._form(kind, build()))
        fields_box = QGroupBox("Layer settings")
        fields_layout = QVBoxLayout(fields_box)
        fields_layout.addWidget(self.field_stack)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.input_label)
        layout.addWidget(self.layer_list, 1)
        layout.addLayout(add_row)
        layout.addLayout(edit_row)
        layout.addWidget(self.summary_stack)
        layout.addWidget(fields_box)

    # -- public API ----------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        return {"input": list(self._input), "classes": self._classes, "layers": copy.deepcopy(self._layers)}

    def layer_ids(self) -> list[int]:
        return list(self._ids)

    def is_valid(self) -> bool:
        return not self._problems

    def set_spec(self, spec: dict[str, Any], ids: list[int] | None = None, select: int = 0) -> None:
        """Show a new network whose layers have the given `ids` (the session's), or fresh ones,
        with row `select` (or the nearest) selected."""
        self._input = list(spec["input"])
        self._classes = spec["classes"]
        self._layers = copy.deepcopy(spec["layers"])
        if ids is None:
            ids = list(range(self._next_id, self._next_id + len(self._layers)))
        self._ids = list(ids)
        self._next_id = max([self._next_id - 1, *self._ids]) + 1
        self._refresh(select=select)

    def set_data(self, input_shape: tuple[int, ...], classes: int) -> None:
        """Fit the input and output to a data set (layer ids are kept)."""
        self._input = list(input_shape)
        self._classes = classes
        self._data_classes = classes
        self._refresh(select=self.current_row())
        self.specEdited.emit()

    def full_width(self) -> int:
        """The width at which the layer list shows every row's text in full."""
        columns = sum(self.layer_list.sizeHintForColumn(c) for c in range(self.layer_list.columnCount()))
        frame = self.layer_list.frameWidth() * 2 + self.layer_list.verticalScrollBar().sizeHint().width()
        return columns + frame + self.layer_list.indentation()

    def current_row(self) -> int:
        return self.layer_list.indexOfTopLevelItem(self.layer_list.currentItem())

    def select_layer(self, row: int) -> None:
        self.layer_list.setCurrentItem(self.layer_list.topLevelItem(row))

    def add_layer(self, kind: str) -> None:
        row = self.current_row()
        last_is_output = bool(self._layers) and self._layers[-1].get("type") == "softmax"
        at = len(self._layers) - 1 if last_is_output else len(self._layers)
        if 0 <= row < at:
            at = row + 1
        self._layers.insert(at, copy.deepcopy(NEW_LAYERS[kind]))
        self._ids.insert(at, self._next_id)
        self._next_id += 1
        self._edited(select=at)

    def remove_layer(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        del self._layers[row]
        del self._ids[row]
        self._edited(select=min(row, len(self._layers) - 1))

    def move_layer(self, step: int) -> None:
        row = self.current_row()
        to = row + step
        if row < 0 or not 0 <= to < len(self._layers):
            return
        self._layers[row], self._layers[to] = self._layers[to], self._layers[row]
        self._ids[row], self._ids[to] = self._ids[to], self._ids[row]
        self._edited(select=to)

    def set_field(self, row: int, key: str, value: Any) -> None:
        """Change one field of one layer, as its editor does."""
        if key == "classes":
            self._classes = value
        else:
            self._layers[row][key] = value
        self._edited(select=row)

    # -- internals -----------------------------------------------------------------------------

    def _button(self, text: str, name: str, tip: str) -> QPushButton:
        return named(QPushButton(text), name, tip, tip)

    def _reorder(self, ids: list[int]) -> None:
        by_id = dict(zip(self._ids, self._layers, strict=True))
        moved = self.layer_list.currentItem()
        self._ids = list(ids)
        self._layers = [by_id[i] for i in ids]
        row = self._ids.index(moved.data(0, ID_ROLE)) if moved is not None else 0
        self._edited(select=row)

    def _edited(self, select: int) -> None:
        self._refresh(select)
        self.specEdited.emit()

    def _refresh(self, select: int) -> None:
        _, self._infos, problems = check(self.spec())
        if self._data_classes is not None and self._classes != self._data_classes:
            problems.append(
                f"output: the network has {self._classes} classes but the data set has {self._data_classes}"
            )
        memory = None
        if len(self._infos) == len(self._layers) and not problems:
            memory = estimate(self._infos)
            try:
                problems += memory.problems()  # beyond the memory limits: shown, and Train stays off
            except LimitError as exc:  # a limit set to something that is not a size
                problems.append(str(exc))
        self._problems = problems
        marked: dict[int, list[str]] = {}
        for message in problems:
            match = _LAYER_IN_MESSAGE.match(message)
            if match:
                marked.setdefault(int(match.group(1)), []).append(message)
            elif message.startswith("output:"):
                marked.setdefault(len(self._layers) - 1, []).append(message)

        self.input_label.setText(f"<b>Input</b> {shape_text(self._input)} · <b>{self._classes}</b> classes")
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        warning = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for i, layer in enumerate(self._layers):
            info = self._infos[i] if i < len(self._infos) else None
            settings = (
                describe(info.layer)
                if info
                else ", ".join(f"{k} {v}" for k, v in layer.items() if k != "type")
            )
            item = QTreeWidgetItem(
                [
                    f"{i}  {layer.get('type', '?')} · {settings}",
                    shape_text(info.output_shape) if info else "—",
                    f"{info.params:,}" if info else "—",
                ]
            )
            item.setData(0, ID_ROLE, self._ids[i])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setFlags(
                Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDragEnabled
            )
            item.setToolTip(0, tooltip("\n".join(marked.get(i, [])) or settings))
            if i in marked:
                item.setIcon(0, warning)
                for column in range(3):
                    item.setForeground(column, QBrush(QColor("#c0392b")))
            self.layer_list.addTopLevelItem(item)
        self.layer_list.blockSignals(False)
        if self._layers:
            self.select_layer(max(0, min(select, len(self._layers) - 1)))
        else:
            self._show_fields(None)

        total = sum(info.params for info in self._infos)
        complete = memory is not None  # every layer inferred; it may still exceed the limits
        self.total_label.setText(f"Total parameters: <b>{total:,}</b>" if complete else "Total parameters: —")
        self.memory_label.setText(f"Memory: {memory.describe()}" if memory else "Memory: —")
        self.memory_label.setStyleSheet("color: #c0392b;" if memory and problems else "")
        self.problem_label.setText("\n".join(f"⚠ {p}" for p in problems))
        self.summary_stack.setCurrentIndex(1 if problems else 0)
        row = self.current_row()
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self._layers) - 1)

    def _show_fields(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        row = self.layer_list.indexOfTopLevelItem(item) if item is not None else -1
        kind = self._layers[row].get("type") if row >= 0 else None
        if kind not in self._fields:
            self.field_stack.setCurrentIndex(0)
            return
        self.field_stack.setCurrentIndex(list(self._fields).index(kind) + 1)
        layer = self._layers[row]
        for key, widget in self._fields[kind].items():
            value = self._classes if key == "classes" else layer.get(key, NEW_LAYERS.get(kind, {}).get(key))
            widget.blockSignals(True)
            if isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            elif key == "kernel":
                widget.setValue(value if isinstance(value, int) else value[0])
            elif key == "padding":
                widget.setValue(-1 if value == "same" else int(value or 0))
            elif key == "stride" and value is None:
                widget.setValue(layer.get("size", 2))
            else:
                widget.setValue(value if value is not None else 0)
            widget.blockSignals(False)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(row < len(self._layers) - 1)
        self.remove_button.setEnabled(True)

    def _form(self, kind: str, rows: list[tuple[str, str, QWidget, str]]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._fields[kind] = {}
        for key, label, widget, tip in rows:
            named(widget, f"{kind}{key.capitalize()}Editor", tip, f"{kind} {label}")
            if isinstance(widget, _PairSpin):
                for part, spin in (("Height", widget.height_spin), ("Width", widget.width_spin)):
                    name = f"{kind}{key.capitalize()}{part}Editor"
                    named(spin, name, tip, f"{kind} {label} {part.lower()}")
            if isinstance(widget, QComboBox):
                widget.currentTextChanged.connect(lambda v, k=key: self._field_changed(k, v))
            elif key == "padding":
                widget.valueChanged.connect(lambda v: self._field_changed("padding", "same" if v < 0 else v))
            else:
                widget.valueChanged.connect(lambda v, k=key: self._field_changed(k, v))
            form.addRow(label, widget)
            self._fields[kind][key] = widget
        return page

    def _field_changed(self, key: str, value: Any) -> None:
        row = self.current_row()
        if row >= 0:
            self.set_field(row, key, value)

    @staticmethod
    def _spin(low: int, high: int, suffix: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        return apply_when_finished(spin)

    @staticmethod
    def _combo(items: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(items))
        return combo

    @staticmethod
    def _dropout() -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 0.95)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        return apply_when_finished(spin)

    def _conv_form(self) -> list[tuple[str, str, QWidget, str]]:
        padding = self._spin(-1, 32, " px")
        padding.setSpecialValueText("same")
        return [
            (
                "filters",
                "Filters",
                self._spin(1, 512),
                "How many filters (output feature maps) the layer learns",
            ),
            ("kernel", "Kernel", self._spin(1, 64, " px"), "Height and width of each square kernel"),
            ("stride", "Stride", self._spin(1, 16, " px"), "Step between kernel positions"),
            ("padding", "Padding", padding, "Zeros added around the input; 'same' keeps the size"),
            (
                "activation",
                "Activation",
                self._combo(ACTIVATIONS),
                "Non-linearity applied to each feature map",
            ),
        ]

    def _pool_form(self) -> list[tuple[str, str, QWidget, str]]:
        return [
            ("mode", "Mode", self._combo(POOL_MODES), "Take the maximum or the mean of each window"),
            ("size", "Size", _PairSpin(1, 32, " px"), "Height × width of the pooling window"),
            ("stride", "Stride", _PairSpin(1, 32, " px"), "Steps between pooling windows, down × across"),
        ]

    def _dense_form(self) -> list[tuple[str, str, QWidget, str]]:
        return [
            ("units", "Units", self._spin(1, 4096), "Number of neurons in this fully connected layer"),
            ("activation", "Activation", self._combo(ACTIVATIONS), "Non-linearity applied to each unit"),
            ("dropout", "Dropout", self._dropout(), "Fraction of this layer's inputs dropped while training"),
        ]

    def _softmax_form(self) -> list[tuple[str, str, QWidget, str]]:
        return [
            (
                "classes",
                "Classes",
                self._spin(2, MAX_CLASSES),
                "Number of output classes (must match the data set)",
            ),
            ("dropout", "Dropout", self._dropout(), "Fraction of this layer's inputs dropped while training"),
        ]
