"""The Explain dock: the kernel explainer, the drawing pad and where the network looks, on the
session's network, kept in step with the session (a new network, new weights, a new data set)
while no run is training. Their input is a test image or the user's own (drawn or opened)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.explain import explainable_layers
from engine.spec import describe
from gui.draw_panel import DrawPanel
from gui.kernel_explainer_view import KernelExplainerView
from gui.naming import named
from gui.saliency_view import SaliencyView
from gui.session import Session
from gui.trainer import Trainer

TEST_IMAGE, OWN_IMAGE = "test", "own"


class ExplainDock(QDockWidget):
    def __init__(self, session: Session, trainer: Trainer, window: QMainWindow):
        super().__init__("Explain", window)
        named(self, "explainDock")
        self.session = session
        self.view = KernelExplainerView()
        self.draw_panel = DrawPanel()
        self.saliency_view = SaliencyView()
        self.input_combo = named(QComboBox(), "explainInputKind", "Explain a test image or your own", "Input")
        self.input_combo.addItem("Test image", TEST_IMAGE)
        self.input_combo.addItem("Drawn or opened image", OWN_IMAGE)
        self.image_spin = named(QSpinBox(), "explainImage", "Test image explained", "Test image")
        self.tabs = named(QTabWidget(), "explainTabs")
        self.tabs.addTab(self.view, "Kernel explainer")
        self.tabs.addTab(self.draw_panel, "Draw")
        self.tabs.addTab(self.saliency_view, "Where it looks")
        for button in self.tabs.tabBar().findChildren(QToolButton):  # shown when the dock is narrow
            button.setToolTip("Scroll the tabs")
        body = QWidget()
        layout = QVBoxLayout(body)
        row = QHBoxLayout()
        row.addWidget(QLabel("Input"))
        row.addWidget(self.input_combo)
        row.addWidget(self.image_spin)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.tabs, 1)
        self.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        window.menuBar().addMenu("&Explain").addAction(self.toggleViewAction())
        self.hide()
        self.image_spin.valueChanged.connect(lambda _: self._explain_input())
        self.input_combo.currentIndexChanged.connect(lambda _: self._explain_input())
        self.draw_panel.inputChanged.connect(self._own_input_changed)
        self.tabs.currentChanged.connect(lambda _: self._explain_input())
        session.events.network.connect(self.refresh)
        session.events.dataset.connect(self.refresh)
        trainer.finished.connect(lambda _: self.refresh())  # after the window took the network back
        self.visibilityChanged.connect(lambda visible: visible and self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Explain the session's idle network, while the dock is shown (a running network belongs
        to its run: the dock keeps what it shows until the run ends; a data set the network does
        not take yet waits for the network that does)."""
        session = self.session
        if session.running or not self.isVisible():
            return
        net, data = session.net, session.dataset
        if tuple(data.input_shape) != net.input_shape:
            return
        self.image_spin.setRange(0, len(data.test.x) - 1)
        self.draw_panel.set_network(net, data.normalization, data.class_names)
        self._explain_input()
        names = [(i, f"Layer {i + 1}: {describe(net.spec['layers'][i])}") for i in explainable_layers(net)]
        self.view.set_sources(names)

    def _own_input_changed(self) -> None:
        if self.input_combo.currentData() == OWN_IMAGE:
            self._explain_input()

    def _explain_input(self) -> None:
        own = self.input_combo.currentData() == OWN_IMAGE
        self.image_spin.setEnabled(not own)
        image = self.draw_panel.image if own else self.session.dataset.test.x[self.image_spin.value()]
        if image is None or self.session.running:
            return
        self.view.model.set_input(self.session.net, image)
        if self.tabs.currentWidget() is self.saliency_view:  # the maps cost a pass per patch
            self.saliency_view.set_input(self.session.net, image, self.session.net.classes)
