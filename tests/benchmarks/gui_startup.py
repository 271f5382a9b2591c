"""Time from `convscope` to a shown, ready window (goal < 1.0 s), and proof that CuPy stays unloaded.

    python tests/benchmarks/gui_startup.py [--reps 5] [--compile]

Each repetition starts a fresh Python that runs the real entry point (`gui.launch.main([])`, what
`convscope` with no arguments runs). Ready is the first event-loop turn after the main window's
first show: by then the built-in data set is loaded, the default network built, and its filters
drawn. The feature maps' panels and the loss and accuracy plots (empty until a run), which draw
with pyqtgraph, are made just after (gui.window_layout.build_after_show); the time until they
exist, the feature maps drawn, is printed too, as "whole". The time
counts from just before the process is spawned. The child's CPU time is printed beside it: on a
busy machine the wall time measures the other programs as much as the start. Preferences go to
a throwaway folder.

The starts read compiled bytecode, as an installed `convscope` does (pip compiles it at install):
the children write and read it in a throwaway cache folder (PYTHONPYCACHEPREFIX), which one
unmeasured start fills first, whatever PYTHONDONTWRITEBYTECODE says here. `--compile` leaves the
environment as it is instead (with PYTHONDONTWRITEBYTECODE set, every start compiles the
project's source again). Also prints `python -X importtime -c "import engine"`'s costliest
modules and asserts that neither `import engine` nor opening the window imports `cupy` on a
machine without it."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

class FirstShow(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and isinstance(obj, QMainWindow):
            QApplication.instance().removeEventFilter(self)
            self.window = obj
            QTimer.singleShot(0, self.ready)
        return False

    def ready(self):
        print("READY", time.monotonic(), time.process_time(), flush=True)
        print("MODULES", *sorted(sys.modules), flush=True)
        self.whole()

    def whole(self):
        if None in (self.window.findChild(QWidget, n) for n in ("accuracyPlot", "featureMapPanels")):
            QTimer.singleShot(0, self.whole)
            return
        print("WHOLE", time.monotonic(), time.process_time(), flush=True)
        QApplication.instance().quit()

app = QApplication(sys.argv[:1])
watcher = FirstShow()
app.installEventFilter(watcher)
from gui.launch import main
sys.exit(main([]))
"""


class Start(NamedTuple):
    """One start: seconds and the child's CPU seconds to the ready window and to the whole one
    (its feature maps and plots made too), and the modules imported by the ready window."""

    seconds: float
    cpu: float
    modules: set[str]
    whole_seconds: float
    whole_cpu: float


def start_once(config_home: str, bytecode: str | None = None) -> Start:
    """A start of `convscope` (tests/gui/test_startup_imports.py checks its modules). `bytecode`:
    the folder the child keeps its compiled bytecode in; None: as the environment says."""
    env = {**os.environ, "XDG_CONFIG_HOME": config_home, "QT_QPA_PLATFORM": "offscreen"}
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode
    t = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    found = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    if out.returncode != 0 or "WHOLE" not in found:
        raise SystemExit(f"the window did not start (exit {out.returncode}):\n{out.stderr}")
    (ready, cpu), (whole, whole_cpu) = found["READY"], found["WHOLE"]
    return Start(float(ready) - t, float(cpu), set(found["MODULES"]), float(whole) - t, float(whole_cpu))


def import_costs(top: int = 8) -> list[tuple[int, str]]:
    """`import engine`'s costliest modules by cumulative microseconds."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import engine, sys; assert 'cupy' not in sys.modules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line[len("import time:") :].split("|")
            rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def cupy_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("cupy") is not None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--compile", action="store_true", help="no bytecode cache of its own: the environment's way"
    )
    args = parser.parse_args()
    print('python -X importtime -c "import engine" (cumulative, costliest first):')
    for micros, name in import_costs():
        print(f"  {micros / 1000:7.1f} ms  {name}")
    print("import engine: cupy not imported")
    starts: list[Start] = []
    print("load average before the starts: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory() as config_home, tempfile.TemporaryDirectory() as cache:
        bytecode = None if args.compile else cache
        if bytecode is not None:
            start_once(config_home, bytecode)  # compiles every module the start imports, unmeasured
            print("bytecode compiled by a first start; the starts below read it")
        for _ in range(args.reps):
            start = start_once(config_home, bytecode)
            starts.append(start)
            print(
                f"start to ready window: {start.seconds:.3f} s ({start.cpu:.3f} s CPU); "
                f"whole, feature maps and plots made: {start.whole_seconds:.3f} s "
                f"({start.whole_cpu:.3f} s CPU)",
                flush=True,
            )
            assert cupy_installed() or "cupy" not in start.modules, "opening the window imported cupy"

    def median(field: str) -> float:
        return statistics.median(getattr(start, field) for start in starts)

    print(
        f"median of {args.reps}: {median('seconds'):.3f} s ({median('cpu'):.3f} s CPU; goal < 1.0 s); "
        f"whole {median('whole_seconds'):.3f} s ({median('whole_cpu'):.3f} s CPU); "
        f"window opened without importing cupy{'' if not cupy_installed() else ' (n/a: CuPy installed)'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
