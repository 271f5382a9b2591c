"""The main window's actions, menus, splitters and status bar, built in one place so the window
itself only connects them to the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.backdrop import Backdrop
from gui.confusion_dock import ConfusionDock
from gui.explain_dock import ExplainDock
from gui.help_menu import build_help_menu
from gui.naming import named
from gui.plain_text import plain
from gui.preferences import Preferences
from gui.run_bar import RunBar
from gui.runs_dock import RunsDock
from gui.timeline_bar import TimelineBar
from gui.weights_info import WeightsInfo

SPLITTERS = ("mainSplitter", "leftSplitter", "rightSplitter", "plotSplitter", "viewSplitter")
#: The loss and accuracy plots' shares of their splitter.
PLOT_STRETCH = (3, 2)
#: A first start's window size, where the screen has room for it.
DEFAULT_SIZE = QSize(1440, 900)


@dataclass(frozen=True)
class Actions:
    train: QAction
    pause: QAction
    stop: QAction
    reset: QAction
    evaluate: QAction
    open_weights: QAction
    save_weights: QAction
    save_weights_as: QAction
    open_network: QAction
    save_network: QAction
    export: QAction
    open_folder: QAction
    open_npz: QAction
    builtin: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    restore_default: QAction

    def file_actions(self) -> tuple[QAction, ...]:
        """Those that would touch the network or the data set: off while a run trains."""
        return (
            self.evaluate,
            self.open_weights,
            self.save_weights,
            self.save_weights_as,
            self.open_network,
            self.save_network,
            self.export,
            self.open_folder,
            self.open_npz,
            self.builtin,
            self.undo,
            self.redo,
            self.restore_default,
        )


def _action(window: QMainWindow, text: str, name: str, tip: str, shortcut: Any = None) -> QAction:
    action = named(QAction(text, window), name, tip)
    action.setStatusTip(tip)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    window.addAction(action)
    return action


def build_actions(window: QMainWindow) -> Actions:
    keys = QKeySequence.StandardKey
    return Actions(
        train=_action(window, "&Train", "trainAction", "Train the network (F5)", "F5"),
        pause=_action(window, "&Pause", "pauseAction", "Pause or resume training (F6)", "F6"),
        stop=_action(window, "&Stop", "stopAction", "Stop training after this batch (Shift+F5)", "Shift+F5"),
        reset=_action(
            window,
            "&Reset Weights",
            "resetAction",
            "Re-initialise every weight from the seed (Ctrl+R)",
            "Ctrl+R",
        ),
        evaluate=_action(
            window,
            "&Evaluate",
            "evaluateAction",
            "Test accuracy, loss and per-class accuracy on the test split (Ctrl+E)",
            "Ctrl+E",
        ),
        open_weights=_action(
            window,
            "&Open Weights…",
            "openWeightsAction",
            "Load a .safetensors weight file and its network",
            keys.Open,
        ),
        save_weights=_action(
            window,
            "&Save Weights",
            "saveWeightsAction",
            "Save the weights (to the same file again)",
            keys.Save,
        ),
        save_weights_as=_action(
            window, "Save Weights &As…", "saveWeightsAsAction", "Save the weights to a new file", keys.SaveAs
        ),
        open_network=_action(
            window, "Open &Network…", "openNetworkAction", "Load a network (layers only) from JSON"
        ),
        save_network=_action(
            window, "Save N&etwork…", "saveNetworkAction", "Save the network (layers only) as JSON"
        ),
        export=_action(
            window,
            "&Export…",
            "exportAction",
            "Write the network as an ONNX model (checked in ONNX's reference runtime) or PyTorch source",
        ),
        open_folder=_action(
            window,
            "Open Image or Data &Folder…",
            "openDataFolderAction",
            "Load class folders of images (root/<class>/*.png, .jpg, .bmp), CIFAR-10/100 or MNIST IDX files",
        ),
        open_npz=_action(
            window,
            "Open Data Set F&ile…",
            "openDataFileAction",
            "Load images and labels from an .npz archive",
        ),
        builtin=_action(
            window,
            "Use &Built-in MNIST Sample",
            "builtinDataAction",
            "Go back to the 5,000-image MNIST sample",
        ),
        quit=_action(window, "&Quit", "quitAction", "Stop training and quit", keys.Quit),
        undo=_action(
            window,
            "&Undo Network Edit",
            "undoAction",
            "Undo the last network edit, weights and all (Ctrl+Z)",
            keys.Undo,
        ),
        redo=_action(
            window,
            "&Redo Network Edit",
            "redoAction",
            "Redo the undone network edit (Ctrl+Shift+Z)",
            "Ctrl+Shift+Z",
        ),
        restore_default=_action(
            window,
            "Restore &Default Network",
            "restoreDefaultAction",
            "Replace the network with the default one for this data set, with fresh weights (Undo reverts)",
        ),
    )


def build_menus(window: QMainWindow, actions: Actions, recent: QMenu) -> None:
    file_menu = window.menuBar().addMenu("&File")
    groups = (
        (actions.open_weights, actions.save_weights, actions.save_weights_as),
        (actions.open_network, actions.save_network, actions.export),
        (actions.open_folder, actions.open_npz, actions.builtin),
    )
    for group in groups:
        for action in group:
            file_menu.addAction(action)
        file_menu.addSeparator()
    file_menu.addMenu(recent)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    edit_menu = window.menuBar().addMenu("&Edit")
    edit_menu.addAction(actions.undo)
    edit_menu.addAction(actions.redo)
    edit_menu.addSeparator()
    edit_menu.addAction(actions.restore_default)
    train_menu = window.menuBar().addMenu("&Training")
    for action in (actions.train, actions.pause, actions.stop, actions.reset, actions.evaluate):
        train_menu.addAction(action)
    build_help_menu(window)


def _splitter(
    name: str, orientation: Qt.Orientation, stretch: tuple[int, int], *widgets: QWidget
) -> QSplitter:
    splitter = named(QSplitter(orientation), name)
    splitter.setChildrenCollapsible(False)
    for i, widget in enumerate(widgets):
        splitter.addWidget(widget)
        splitter.setStretchFactor(i, stretch[i])
    return splitter


#: The titles of the views of the network, which say when the network they show is not the editor's.
VIEW_TITLES = {"filters_view": "Learned filters", "feature_maps_view": "Feature maps"}


def show_last_valid(window: Any, stale: bool) -> None:
    """While the edited network is invalid, the views keep the last valid one: greyed, and titled so."""
    for attribute, title in VIEW_TITLES.items():
        box = getattr(window, attribute).parentWidget()
        box.setTitle(f"{title} — of the last valid network" if stale else title)
        box.setEnabled(not stale)


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(widget)
    return box


def build_layout(window: Any, run_bar: RunBar) -> QSplitter:
    """The editor and settings on the left; the run bar, plots, views and the time-lapse's timeline
    on the right. Returns
    the main splitter (the others are found by name)."""
    horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
    w = window
    network, training = _group("Network", w.editor), _group("Training", w.settings_panel)
    left = _splitter("leftSplitter", vertical, (3, 1), network, training)
    plots = _splitter("plotSplitter", horizontal, PLOT_STRETCH, plot_space(), plot_space())
    filters, maps = (_group(VIEW_TITLES[name], getattr(w, name)) for name in VIEW_TITLES)
    views = _splitter("viewSplitter", horizontal, (1, 2), filters, maps)
    right = QWidget()
    right_layout = QVBoxLayout(right)
    right_layout.setContentsMargins(0, 0, 0, 0)
    right_layout.addWidget(run_bar)
    w.weights_info = WeightsInfo(w.session)
    under_bar = QHBoxLayout()
    under_bar.addWidget(w.weights_info, 1)
    under_bar.addWidget(run_bar.rate_label)
    right_layout.addLayout(under_bar)
    right_layout.addWidget(_splitter("rightSplitter", vertical, (2, 3), plots, views), 1)
    w.timeline = TimelineBar(w.session, w.trainer, w.filters_view, w.feature_maps_view, w._show_snapshot)
    right_layout.addWidget(w.timeline)
    left.setMinimumWidth(window.fontMetrics().averageCharWidth() * 48)
    main = _splitter("mainSplitter", horizontal, (0, 1), _scrolled(left), right)
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(main)
    window.setCentralWidget(central)
    return main


def _scrolled(panel: QWidget) -> QScrollArea:
    """`panel` scrolled up and down where the window is shorter than it (the editor and the
    settings stacked need 844 px, more than a laptop's 768), and as wide as it is allowed to be."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(panel)
    area.setMinimumWidth(panel.minimumWidth() + area.verticalScrollBar().sizeHint().width())
    return area


def plot_space() -> QWidget:
    """The place a plot takes until :func:`build_plots` makes it: the plot's background, asking
    for space as the plot will, so the splitters share the window out as they will with the
    plots; no pyqtgraph before the first paint."""
    return Backdrop()


def build_after_show(window: Any) -> None:
    """What the window makes with pyqtgraph just after its first show, so its first paint needs
    none: the loss and accuracy plots, then the feature maps' panels."""
    build_plots(window)
    window.feature_maps_view.build_drawing()


def build_plots(window: Any) -> None:
    """Make the loss and accuracy plots in the places the layout keeps for them, once. The window
    makes them just after it is shown (they are empty until a run), or when first needed."""
    if window.loss_plot is not None:
        return
    from gui.plots import AccuracyPlot, LossPlot

    window.loss_plot, window.accuracy_plot = LossPlot(), AccuracyPlot()
    splitter = window.findChild(QSplitter, "plotSplitter")
    sizes = splitter.sizes()
    for i, plot in enumerate((window.loss_plot, window.accuracy_plot)):
        space = splitter.widget(i)
        # insertWidget gives the splitter the plot to own, as addWidget does; PySide6's
        # replaceWidget leaves it Python's, which then deleted it under the splitter at exit
        splitter.insertWidget(i, plot)
        space.setParent(None)  # out of the splitter now
        space.deleteLater()
        splitter.setStretchFactor(i, PLOT_STRETCH[i])
    if any(sizes):  # shown already: the places' sizes, which the user may have set (before, none)
        splitter.setSizes(sizes)


def menu(window: QMainWindow, title: str) -> QMenu:
    """The menu bar's menu called `title`, added before Help the first time it is asked for."""
    bar = window.menuBar()
    menus = {action.text(): action for action in bar.actions() if action.menu() is not None}
    if title in menus:
        return menus[title].menu()
    added = QMenu(title, window)
    if "&Help" in menus:
        bar.insertMenu(menus["&Help"], added)
    else:
        bar.addMenu(added)
    return added


def build_docks(window: Any) -> None:
    """The docks over the session's network: Explain, and the analysis views (Analyse menu)."""
    window.explain_dock = ExplainDock(window.session, window.trainer, window)
    menu(window, "&Explain").addAction(window.explain_dock.toggleViewAction())
    window.confusion_dock = ConfusionDock(window)
    window.runs_dock = RunsDock(window)
    analyse = menu(window, "&Analyse")
    for dock in (window.confusion_dock, window.runs_dock):
        analyse.addAction(dock.toggleViewAction())


def build_status_bar(window: QMainWindow) -> tuple[QLabel, QLabel]:
    """(data label, device label), kept at the status bar's right."""
    device = named(QLabel(), "deviceLabel", "Where the network's arrays live")
    data = plain(named(QLabel(), "dataLabel", "The data set being trained on"))
    window.statusBar().addPermanentWidget(data)
    window.statusBar().addPermanentWidget(device)
    return data, device


def restore_geometry(window: QMainWindow, preferences: Preferences) -> dict[str, Any]:
    """Restore the window's geometry and its docks (which are shown, where; a dock shown makes
    its contents now); returns the splitters' saved states, which :func:`restore_splitters`
    applies once the window is shown."""
    geometry = preferences.data("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        window.resize(DEFAULT_SIZE.boundedTo(window.screen().availableGeometry().size()))
    docks = preferences.data("window/docks")
    if docks is not None:
        window.restoreState(docks)
    return {name: preferences.data(f"splitters/{name}") for name in SPLITTERS}


def restore_splitters(window: QMainWindow, states: dict[str, Any], main: QSplitter, left_wanted: int) -> None:
    """Once the window has its real size (before, splitter sizes get squeezed): the left panel
    as wide as `left_wanted` where the window allows, then the sizes the user left."""
    left = min(max(window.width() * 3 // 10, left_wanted), window.width() * 37 // 100)
    main.setSizes([left, window.width() - left])
    for name, state in states.items():
        if state is not None:
            window.findChild(QSplitter, name).restoreState(state)


def save_window(window: QMainWindow, preferences: Preferences) -> None:
    preferences.set("window/geometry", window.saveGeometry())
    preferences.set("window/docks", window.saveState())
    for name in SPLITTERS:
        preferences.set(f"splitters/{name}", window.findChild(QSplitter, name).saveState())
