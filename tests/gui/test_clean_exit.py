"""Closing the window while it trains ends the real process cleanly, at the batch in flight."""

from __future__ import annotations

import os
import subprocess
import sys
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
    try:
        stdout, stderr = process.communicate(timeout=120)  # only catches a hang
    finally:
        process.kill()
    lines = stdout.splitlines()
    assert lines[:1] == ["asked 'Quit ConvScope'"], f"no question before quitting:\n{stdout}{stderr}"
    lines = lines[1:]
    assert lines and lines[0].startswith("closing "), f"the driver never closed the window:\n{stdout}{stderr}"
    _, closed, running = lines[0].split()
    assert running == "running=True", "training had already ended when the window closed"
    assert process.returncode == 0, stderr
    assert lines[1:] and lines[1].startswith("exited "), stdout
    after = int(lines[1].split("=")[1]) - int(closed.split("=")[1])
    assert after <= 1, f"{after} batches were started after the close"
    for sign in CRASH_SIGNS:
        assert sign not in stderr, stderr
