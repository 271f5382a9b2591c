"""Closing the window while it trains ends the real process cleanly and quickly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

DRIVER = Path(__file__).with_name("clean_exit_driver.py")
CRASH_SIGNS = ("QThread: Destroyed while thread is still running", "Fatal Python error", "Traceback")


def test_closing_the_window_while_training_exits_the_process_cleanly(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), str(tmp_path / "convscope.ini")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline()  # blocks until the driver closes the window
    try:
        process.wait(timeout=10)
    finally:
        process.kill()
    exited = time.time()
    stdout, stderr = process.communicate()
    assert line.startswith("closing "), f"the driver never closed the window: {line!r}\n{stderr}"
    _, closed, running = line.split()
    assert running == "running=True", "training had already ended when the window closed"
    assert process.returncode == 0, stderr
    assert exited - float(closed) < 2.0, f"exit took {exited - float(closed):.2f} s after the close"
    for sign in CRASH_SIGNS:
        assert sign not in stderr, stderr
