"""The options of a folder of images, asked before it is read: grey or RGB (told from the files, or
forced) and the size every image is resized to (the most common one, or the user's)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from engine.image_folder import COLOURS
from engine.limits import MAX_WINDOW
from gui.naming import named
from gui.session import LoadOptions

COLOUR_LABELS = dict(zip(COLOURS, ("Told from the files", "Grey", "RGB"), strict=True))


class ImageFolderDialog(QDialog):
    def __init__(self, folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Open images in {folder}")
        self.colour_combo = named(QComboBox(), "colourCombo", "Grey unless an image has colour, or forced")
        for colour in COLOURS:
            self.colour_combo.addItem(COLOUR_LABELS[colour], colour)
        self.common_check = named(
            QCheckBox("The most common size"), "commonSizeCheck",
            "Resize every image to the size most of them have, or to the size given here",
        )
        self.common_check.setChecked(True)
        self.height_spin, self.width_spin = (
            named(QSpinBox(), f"{side}Spin", f"Image {side} in pixels after resizing")
            for side in ("height", "width")
        )
        size = QHBoxLayout()
        for spin in (self.height_spin, self.width_spin):
            spin.setRange(1, MAX_WINDOW)
            spin.setValue(28)
            spin.setEnabled(False)
            size.addWidget(spin)
        self.common_check.toggled.connect(lambda common: [s.setEnabled(not common) for s in self._spins()])
        choices = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(choices.Open | choices.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Colour", self.colour_combo)
        form.addRow("Size", self.common_check)
        form.addRow("Height × width", size)
        form.addRow(buttons)

    def _spins(self) -> tuple[QSpinBox, QSpinBox]:
        return self.height_spin, self.width_spin

    def options(self) -> LoadOptions:
        size = None if self.common_check.isChecked() else (self.height_spin.value(), self.width_spin.value())
        return LoadOptions(image_size=size, colour=self.colour_combo.currentData())


def ask(folder: str, parent: QWidget | None = None) -> LoadOptions | None:
    """The options the user chose for `folder`, or None when they cancelled."""
    dialog = ImageFolderDialog(folder, parent)
    return dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None
