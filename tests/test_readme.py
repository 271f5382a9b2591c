"""The README says what is true: its Python example runs as written, and its command synopsis
names only options the commands take."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from engine.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text under `## title`, up to the next heading of that level."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def first_block(text: str, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert match, f"no {language} block"
    return match.group(1)


def test_the_python_example_runs_as_written(tmp_path):
    code = first_block(section("Python"), "python")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVSCOPE_DEVICE": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert (tmp_path / "model.safetensors").is_file()


def test_the_command_synopsis_names_only_options_that_exist():
    synopsis = first_block(section("Command line"), "text")
    commands = build_parser()._subparsers._group_actions[0].choices
    command = None
    for line in synopsis.splitlines():
        words = line.split()
        if words[:1] == ["convscope"]:
            command = commands[words[1]]
        taken = {option for action in command._actions for option in action.option_strings}
        for flag in re.findall(r"--[a-z][a-z0-9-]*", line):
            assert flag in taken, f"the README shows {flag} for convscope {command.prog.split()[-1]}"
