"""What `convscope` imports before its window is first shown: only what the first paint needs.

Each module left out here is one the start would otherwise wait for (tests/benchmarks/README.md,
App start-up, has the times): the explain dock's views and their engine code are made when the
dock is first shown, package metadata is read for Help > About, and the heavy libraries of the
exports, the image-folder reader and the GPU are imported by what uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstShow(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and isinstance(obj, QMainWindow):
            QApplication.instance().removeEventFilter(self)
            print("MODULES", " ".join(sorted(sys.modules)), flush=True)
            QTimer.singleShot(0, QApplication.instance().quit)
        return False

app = QApplication(sys.argv[:1])
watcher = FirstShow()
app.installEventFilter(watcher)
from gui.launch import main
sys.exit(main([]))
"""

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
)


def test_the_window_is_shown_before_the_modules_it_does_not_draw_with_are_imported(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("MODULES")]
    assert out.returncode == 0 and lines, out.stderr
    imported = set(lines[0])
    assert "gui.main_window" in imported and "pyqtgraph" in imported  # the window was there
    assert sorted(imported.intersection(NOT_BEFORE_THE_WINDOW)) == []
