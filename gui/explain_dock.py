"""The Explain dock: the kernel explainer on the session's network and a test image, kept in step
with the session (a new network, new weights, a new data set) while no run is training."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QSpinBox, QVBoxLayout, QWidget

from engine.explain import explainable_layers
from engine.spec import describe
from gui.kernel_explainer_view import KernelExplainerView
from gui.naming import named
from gui.session import Session
from gui.trainer import Trainer


class ExplainDock(QDockWidget):
    def __init__(self, session: Session, trainer: Trainer, window: QMainWindow):
        super().__init__("Explain", window)
        named(self, "explainDock")
        self.session = session
        self.view = KernelExplainerView()
        self.image_spin = named(QSpinBox(), "explainImage", "Test image explained", "Test image")
        body = QWidget()
        layout = QVBoxLayout(body)
        row = QHBoxLayout()
        row.addWidget(QLabel("Test image"))
        row.addWidget(self.image_spin)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        self.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        window.menuBar().addMenu("&Explain").addAction(self.toggleViewAction())
        self.hide()
        self.image_spin.valueChanged.connect(lambda _: self.refresh())
        session.events.network.connect(self.refresh)
        session.events.dataset.connect(self.refresh)
        trainer.finished.connect(lambda _: self.refresh())  # after the window took the network back
        self.refresh()

    def refresh(self) -> None:
        """Explain the session's idle network on the chosen test image (a running network
        belongs to its run: the view keeps what it shows until the run ends)."""
        session = self.session
        if session.running:
            return
        net, test = session.net, session.dataset.test.x
        self.image_spin.setRange(0, len(test) - 1)
        layers = explainable_layers(net)
        self.view.model.set_input(net, test[self.image_spin.value()])
        self.view.set_sources([(i, f"Layer {i + 1}: {describe(net.spec['layers'][i])}") for i in layers])
