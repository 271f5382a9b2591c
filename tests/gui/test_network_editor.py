"""The network editor alone: the buttons add, remove and move layers, each layer keeps its id
through the edits (the session carries weights by it), and problems block the spec."""

from PySide6.QtWidgets import QPushButton, QSpinBox

from engine.data import MAX_CLASSES
from engine.spec import default_spec
from gui.network_editor import NetworkEditor


def _editor(qtbot, ids=None):
    editor = NetworkEditor()
    qtbot.addWidget(editor)
    editor.set_spec(default_spec(), ids)
    editor.set_data((1, 28, 28), 10)
    return editor


def test_layers_keep_their_ids_through_additions_removals_and_moves(qtbot):
    editor = _editor(qtbot, ids=[10, 11, 12, 13, 14, 15])
    edits = []
    editor.specEdited.connect(lambda: edits.append(editor.layer_ids()))
    editor.select_layer(4)
    editor.findChild(QPushButton, "addDenseButton").click()
    assert editor.layer_ids() == [10, 11, 12, 13, 14, 16, 15]  # a new id, after the ids it was given
    editor.select_layer(1)
    editor.findChild(QPushButton, "moveDownButton").click()
    assert editor.layer_ids() == [10, 12, 11, 13, 14, 16, 15]
    editor.findChild(QPushButton, "removeLayerButton").click()
    assert editor.layer_ids() == [10, 12, 13, 14, 16, 15]
    kinds = [layer["type"] for layer in editor.spec()["layers"]]
    assert kinds == ["conv", "conv", "pool", "dense", "dense", "softmax"]
    assert edits[-1] == editor.layer_ids() and len(edits) == 3


def test_a_network_without_its_output_layer_is_invalid_and_says_why(qtbot):
    editor = _editor(qtbot)
    assert editor.is_valid() and not editor.problem_label.text()
    editor.select_layer(5)
    editor.findChild(QPushButton, "removeLayerButton").click()
    assert not editor.is_valid() and "softmax" in editor.problem_label.text()


def test_the_classes_field_shows_and_steps_from_every_class_count_a_data_set_may_have(qtbot):
    """A data set may have up to 10,000 classes (README): the field stopped at 1,000, so the
    default network for 1,500 classes was shown as 1,000, and a step down made it 999."""
    editor = NetworkEditor()
    qtbot.addWidget(editor)
    editor.set_spec({**default_spec(), "classes": MAX_CLASSES})
    editor.set_data((1, 28, 28), MAX_CLASSES)
    editor.select_layer(5)
    classes = editor.findChild(QSpinBox, "softmaxClassesEditor")
    assert classes.value() == MAX_CLASSES and editor.is_valid()
    classes.stepDown()
    assert editor.spec()["classes"] == MAX_CLASSES - 1
