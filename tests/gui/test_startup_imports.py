"""What `convscope` imports before its window is first shown: only what the first paint needs.

Each module left out here is one the start would otherwise wait for (tests/benchmarks/README.md,
App start-up, has the times): the filters are drawn without pyqtgraph, which the feature maps'
panels and the loss and accuracy plots import just after the first show; the explain, confusion
and runs docks' contents (and the modules only they use) are made when each dock is first shown,
the Evaluate dialog's module is imported for Evaluate, package metadata is read for Help > About,
and the heavy libraries of the exports, the image-folder reader, the GPU and the compiled
kernels are imported by what uses them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtWidgets import QSplitter

from gui import window_layout

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gui_startup.py"


NOT_BEFORE_THE_WINDOW = (
    "pyqtgraph",
    "gui.canvas",
    "gui.plots",
    "gui.run_curves",
    "torch",
    "onnx",
    "onnxruntime",
    "scipy",
    "PIL",
    "sklearn",
    "cupy",
    "numba",
    "tqdm",
    "importlib.metadata",
    "engine.export",
    "engine.onnx_export",
    "engine.torch_export",
    "engine.explain",
    "engine.occlusion",
    "engine.drawing",
    "gui.kernel_explainer_view",
    "gui.explainer_model",
    "gui.draw_panel",
    "gui.saliency_view",
    "gui.confusion_view",
    "gui.evaluation_dialog",
)


def test_the_window_is_shown_before_the_modules_it_does_not_draw_with_are_imported(tmp_path):
    spec = importlib.util.spec_from_file_location("gui_startup", SCRIPT)
    gui_startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gui_startup)  # the start-up benchmark's own start, with its watcher
    imported = gui_startup.start_once(str(tmp_path)).modules
    assert {"gui.main_window", "gui.filters_view", "gui.image_canvas"} <= imported  # the window was there
    assert sorted(imported.intersection(NOT_BEFORE_THE_WINDOW)) == []


def test_the_hidden_docks_are_made_when_first_shown_from_their_menus(window):
    docks = (window.explain_dock, window.confusion_dock, window.runs_dock)
    assert [dock.built or dock.widget() is not None for dock in docks] == [False, False, False]
    for dock in docks:
        dock.toggleViewAction().trigger()
        assert dock.built and dock.isVisible() and dock.widget() is not None
    assert window.runs_dock.table.rowCount() == 0  # no runs kept yet: listed, empty
    assert "Change Folder" in window.runs_dock.message_label.text()  # this window keeps no runs


@pytest.fixture
def fresh(qtbot, settings, small_data):
    """Makes and shows a window as `convscope` does, inside the test (pytest-qt runs the event
    loop between a fixture and the test; the conftest's window also changes its device first,
    which starts a new run and so makes the plots)."""
    from gui.main_window import MainWindow

    made = []

    def show(drawn_first: bool = False) -> MainWindow:
        """`drawn_first`: the plots and the feature maps' panels made before the window is shown,
        as before they were deferred."""
        made.append(MainWindow(settings=settings, dataset=small_data))
        qtbot.addWidget(made[-1])
        if drawn_first:
            window_layout.build_after_show(made[-1])
        made[-1].show()
        return made[-1]

    yield show
    for window in made:
        window.trainer.shutdown(2000)


def test_the_plots_are_made_just_after_the_first_show_where_the_layout_kept_their_place(fresh, qtbot):
    window, early = fresh(), fresh(drawn_first=True)
    assert window.loss_plot is None  # shown, not yet made: the event loop's first turns make them
    qtbot.waitUntil(lambda: window.loss_plot is not None)
    made = [window.loss_plot, window.accuracy_plot]
    splitters = [
        [w.findChild(QSplitter, name) for name in ("rightSplitter", "plotSplitter")] for w in (window, early)
    ]
    assert [splitters[0][1].widget(i) for i in range(2)] == made
    # the window shared out as if the plots had been there from the start
    assert [s.sizes() for s in splitters[0]] == [s.sizes() for s in splitters[1]]
    # the splitter owns them, as it owns what the layout gave it: a plot Python owned was deleted
    # under the splitter when the interpreter exited, and the splitter's next resize crashed
    assert [shiboken6.ownedByPython(plot) for plot in made] == [False, False]


def test_a_run_started_before_the_plots_are_made_makes_them_first(fresh, qtbot):
    window = fresh()
    assert window.loss_plot is None
    window.acts.train.trigger()
    assert window.loss_plot is not None and window.loss_plot.isVisible()
    qtbot.waitUntil(lambda: window.accuracy_plot.train.size >= 1, timeout=60_000)
    window.trainer.stop()
    qtbot.waitUntil(lambda: not window.trainer.running, timeout=30_000)


def test_the_feature_maps_are_drawn_just_after_the_first_show_as_they_would_have_been(fresh, qtbot):
    window, early = fresh(), fresh(drawn_first=True)
    view = window.feature_maps_view
    assert view.graphics is None  # shown with its place kept, the panels not made yet
    qtbot.waitUntil(lambda: view.graphics is not None)
    assert view.graphics.isVisible() and view.graphics.size() == early.feature_maps_view.graphics.size()
    assert [panel.title.text() for panel in view.panels] == [
        panel.title.text() for panel in early.feature_maps_view.panels
    ]
    for shown, drawn_first in zip(view.panels, early.feature_maps_view.panels, strict=True):
        # the maps asked for meanwhile
        np.testing.assert_array_equal(shown.canvas.pixels(), drawn_first.canvas.pixels())
    view.next_button.click()  # and it goes on drawing what it is asked to
    early.feature_maps_view.next_button.click()
    qtbot.waitUntil(lambda: view._input_index == 1 and early.feature_maps_view._input_index == 1)
    np.testing.assert_array_equal(
        view.panels[1].canvas.pixels(), early.feature_maps_view.panels[1].canvas.pixels()
    )
