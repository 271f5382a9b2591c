"""The Explain dock: the kernel explainer, the drawing pad and where the network looks, on the
session's network and its shown input (the test image the feature maps show, or the user's own,
drawn or opened), kept in step with the session.

Every view draws from one :class:`Snapshot` of that input: the session's while the network is
idle, the run's worker's while it trains (host copies, at the worker's bounded rate), so the dock
stays live during a run without touching the network. Where the network looks needs the network
itself: it waits for the run's end.

The dock is made empty and hidden; its views, and the modules they need, are made when it is
first shown (gui.lazy_dock), so the window's start does not wait for them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.spec import describe
from gui.lazy_dock import BuiltWhenShown
from gui.naming import named
from gui.session import Session
from gui.snapshot import Snapshot
from gui.trainer import Trainer

TEST_IMAGE, OWN_IMAGE = "test", "own"


class ExplainDock(BuiltWhenShown):
    def __init__(self, session: Session, trainer: Trainer, window: QMainWindow):
        super().__init__("Explain", window)
        named(self, "explainDock")
        self.session = session
        self._snapshot: Snapshot | None = None
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        self.hide()
        session.events.network.connect(self.refresh)
        session.events.dataset.connect(self.refresh)
        session.events.input.connect(self._session_input_changed)
        trainer.snapshotReady.connect(self.show_snapshot)
        trainer.finished.connect(lambda _: self.refresh())  # after the window took the network back
        self.visibilityChanged.connect(lambda visible: visible and self.refresh())

    def _build(self) -> None:
        from gui.draw_panel import DrawPanel
        from gui.kernel_explainer_view import KernelExplainerView
        from gui.saliency_view import SaliencyView

        session = self.session
        self.view = KernelExplainerView()
        self.draw_panel = DrawPanel()
        self.saliency_view = SaliencyView()
        self.input_combo = named(QComboBox(), "explainInputKind", "Explain a test image or your own", "Input")
        self.input_combo.addItem("Test image", TEST_IMAGE)
        self.input_combo.addItem("Drawn or opened image", OWN_IMAGE)
        self.image_spin = named(
            QSpinBox(), "explainImage", "Test image explained (the one Feature maps shows)", "Test image"
        )
        self.image_spin.setMinimum(1)
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
        self.image_spin.valueChanged.connect(lambda number: session.choose_sample(number - 1))
        self.input_combo.currentIndexChanged.connect(lambda _: self._input_kind_chosen())
        self.draw_panel.inputChanged.connect(self._own_input_changed)
        self.tabs.currentChanged.connect(lambda _: self._show_current())

    def refresh(self) -> None:
        """Explain the session's network, while the dock is shown: the idle network's snapshot,
        or a run's latest (the run's network is its worker's: only its layout is read here); a
        data set the network does not take yet waits for the network that does."""
        session = self.session
        if not self.isVisible():
            return
        net, data = session.net, session.dataset
        if tuple(data.input_shape) != net.input_shape:
            return
        self.image_spin.blockSignals(True)
        self.image_spin.setRange(1, len(data.test.x))
        self.image_spin.blockSignals(False)
        self.draw_panel.set_network(net, data.normalization, data.class_names)
        from engine.explain import explainable_layers

        # numbered from 0, as the editor, the filters and the feature maps number the layers
        names = [(i, f"Layer {i}: {describe(net.spec['layers'][i])}") for i in explainable_layers(net)]
        if not session.running:
            self._snapshot = None  # the sources below are explained on the new network's snapshot
        self.view.set_sources(names)
        self._session_input_changed()
        if session.running:
            self._show_current()

    def _session_input_changed(self) -> None:
        """The session shows another input: the controls say which, and the idle network's
        snapshot of it is shown (a run's comes from its worker)."""
        session = self.session
        if not self.built:
            return
        for widget, value in (
            (self.input_combo, int(session.own_image is not None)),
            (self.image_spin, session.sample_index + 1),
        ):
            widget.blockSignals(True)
            widget.setCurrentIndex(value) if widget is self.input_combo else widget.setValue(value)
            widget.blockSignals(False)
        self.image_spin.setEnabled(session.own_image is None)
        if not session.running and self.isVisible():
            self.show_snapshot(session.snapshot())

    def _input_kind_chosen(self) -> None:
        if self.input_combo.currentData() == OWN_IMAGE and self.draw_panel.image is not None:
            self.session.show_own_image(self.draw_panel.image)
        else:
            self.session.show_own_image(None)
            self._session_input_changed()  # no own image to switch to: the combo says so

    def _own_input_changed(self) -> None:
        """The user drew or opened an image: it is the input every view shows."""
        self.session.show_own_image(self.draw_panel.image)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show `snapshot` (the idle network's, or a run's) in the dock's current tab; a run's is
        kept while the dock is hidden, to be shown when it is opened during the run."""
        self._snapshot = snapshot
        if self.isVisible() and self.built:
            self._show_current()

    def _show_current(self) -> None:
        shot, session = self._snapshot, self.session
        if shot is None:
            return
        own = shot.image is not None
        image = shot.image if own else session.dataset.test.x[shot.sample_index]
        if own:
            self.draw_panel.show_prediction(shot.maps[-1])
        self.view.model.set_input(session.net, image, shot)  # drawn only while its tab is shown
        if self.tabs.currentWidget() is self.saliency_view:  # a pass per patch, and the network itself
            if session.running:
                self.saliency_view.hold("Where the network looks is worked out again when the run ends.")
            else:
                self.saliency_view.set_input(session.net, image, session.net.classes)
