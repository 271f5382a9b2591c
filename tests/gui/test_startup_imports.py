"""What `convscope` imports before its window is first shown: only what the first paint needs.

Each module left out here is one the start would otherwise wait for (tests/benchmarks/README.md,
App start-up, has the times): the explain, confusion and runs docks' contents (and the modules only
they use) are made when each dock is first shown, the Evaluate dialog's module is imported for
Evaluate, package metadata is read for Help > About, and the heavy libraries of the
exports, the image-folder reader and the GPU are imported by what uses them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gui_startup.py"


NOT_BEFORE_THE_WINDOW = (
    "torch",
    "onnx",
    "onnxruntime",
    "scipy",
    "PIL",
    "sklearn",
    "cupy",
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
    assert "gui.main_window" in imported and "pyqtgraph" in imported  # the window was there
    assert sorted(imported.intersection(NOT_BEFORE_THE_WINDOW)) == []


def test_the_hidden_docks_are_made_when_first_shown_from_their_menus(window):
    docks = (window.explain_dock, window.confusion_dock, window.runs_dock)
    assert [dock.built or dock.widget() is not None for dock in docks] == [False, False, False]
    for dock in docks:
        dock.toggleViewAction().trigger()
        assert dock.built and dock.isVisible() and dock.widget() is not None
    assert window.runs_dock.table.rowCount() == 0  # no runs kept yet: listed, empty
    assert "No runs yet" in window.runs_dock.message_label.text()
