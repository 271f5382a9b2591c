"""Where the network looks: the gradient saliency |∂ score/∂ input| and the occlusion map, each
laid over the input in red. Both are computed on a pool thread, never in the GUI thread; the
newest request wins, older results are dropped."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from engine.occlusion import occlusion_map
from gui.naming import named
from gui.plain_text import plain

PREDICTED = -1  # the class spin's value that means "the predicted class"


class _Signals(QObject):
    done = Signal(int, object, object, int)  # request, saliency (H, W), occlusion (H, W), class
    failed = Signal(int, object)


class _Job(QRunnable):
    """One request: both maps for one image, brought to the host for display."""

    def __init__(
        self, request: int, network: Any, image: np.ndarray, target: int | None, patch: int, signals: _Signals
    ):
        super().__init__()
        self.request, self.network, self.image, self.target, self.patch = (
            request,
            network,
            image,
            target,
            patch,
        )
        self.signals = signals

    def run(self) -> None:
        net = self.network
        try:
            drops, cls = occlusion_map(
                net, self.image, patch=self.patch, stride=max(self.patch // 2, 1), target=self.target
            )
            saliency = net.input_gradient(self.image[None], cls)[0].max(axis=0)
            self.signals.done.emit(
                self.request, net.backend.to_host(saliency), net.backend.to_host(drops), cls
            )
        except Exception as exc:  # reported in the view; the pool thread must not die silently
            self.signals.failed.emit(self.request, exc)


def overlay(image: np.ndarray, heat: np.ndarray) -> QImage:
    """`image` (C, H, W) in grey with `heat` (H, W) in red over it, as strong as it is high."""
    grey = image.mean(axis=0)
    span = float(grey.max() - grey.min()) or 1.0
    grey = (grey - grey.min()) / span
    top = float(np.abs(heat).max()) or 1.0
    alpha = np.clip(heat / top, 0.0, 1.0)
    rgb = np.empty((*grey.shape, 3), dtype=np.float32)
    rgb[..., 0] = grey * (1 - alpha) + alpha
    rgb[..., 1] = rgb[..., 2] = grey * (1 - alpha)
    pixels = np.ascontiguousarray((rgb * 255).astype(np.uint8))
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class SaliencyView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "saliencyView", accessible="Where the network looks")
        self.class_spin = named(
            QSpinBox(), "saliencyClass", "The class scored (predicted: the network's answer)", "Class"
        )
        self.class_spin.setRange(PREDICTED, PREDICTED)
        self.class_spin.setSpecialValueText("predicted")
        self.patch_spin = named(QSpinBox(), "occlusionPatch", "Occluding patch size (pixels)", "Patch")
        self.patch_spin.setRange(1, 64)
        self.patch_spin.setValue(4)
        self.saliency_label = named(QLabel(), "saliencyImage")
        self.occlusion_label = named(QLabel(), "occlusionImage")
        self.status_label = plain(named(QLabel(), "saliencyStatus"))
        for label in (self.saliency_label, self.occlusion_label):
            label.setMinimumSize(160, 160)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.network: Any = None
        self.image: np.ndarray | None = None
        self.shown: tuple[np.ndarray, np.ndarray, int] | None = None
        self._request = 0
        self._signals = _Signals()
        self._signals.done.connect(self._done)
        self._signals.failed.connect(self._failed)
        controls = QHBoxLayout()
        for text, spin in (("Class", self.class_spin), ("Patch", self.patch_spin)):
            controls.addWidget(QLabel(text))
            controls.addWidget(spin)
        controls.addStretch(1)
        maps = QGridLayout()
        maps.addWidget(QLabel("Gradient saliency |∂ score/∂ input|"), 0, 0)
        maps.addWidget(QLabel("Occlusion: how far the probability drops"), 0, 1)
        maps.addWidget(self.saliency_label, 1, 0)
        maps.addWidget(self.occlusion_label, 1, 1)
        maps.setRowStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(maps, 1)
        layout.addWidget(self.status_label)
        self.class_spin.valueChanged.connect(lambda _: self.compute())
        self.patch_spin.valueChanged.connect(lambda _: self.compute())

    def set_input(self, network: Any, image: np.ndarray | None, classes: int) -> None:
        self.network, self.image = network, image
        self.class_spin.setRange(PREDICTED, classes - 1)
        self.compute()

    def hold(self, reason: str) -> None:
        """Keep the maps shown and compute none (the network is a run's), saying why."""
        self.network = None
        self._request += 1  # a job under way reports into nothing
        self.status_label.setText(reason)

    def compute(self) -> None:
        """Start both maps for the current input on a pool thread."""
        if self.network is None or self.image is None:
            return
        self._request += 1
        target = None if self.class_spin.value() == PREDICTED else self.class_spin.value()
        patch = min(self.patch_spin.value(), *self.image.shape[1:])
        self.status_label.setText("Computing…")
        job = _Job(self._request, self.network, self.image, target, patch, self._signals)
        QThreadPool.globalInstance().start(job)

    def _done(self, request: int, saliency: np.ndarray, drops: np.ndarray, cls: int) -> None:
        if request != self._request:
            return
        self.shown = (saliency, drops, cls)
        for label, heat in ((self.saliency_label, saliency), (self.occlusion_label, drops)):
            side = min(label.width(), label.height())
            label.setPixmap(QPixmap.fromImage(overlay(self.image, heat)).scaled(side, side))
        self.status_label.setText(
            f"Class {cls}: red where the score is most sensitive, and where covering the input costs most"
        )

    def _failed(self, request: int, exc: Exception) -> None:
        if request == self._request:
            self.status_label.setText(f"Could not compute the maps: {exc}")
