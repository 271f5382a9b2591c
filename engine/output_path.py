"""The one rule for a file ConvScope is about to write: its folder exists and takes a new file.

The CLI checks every output path before it trains, so a long run never ends in a write that was
bound to fail; `weights.save` checks again, so the window's Save says the same thing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import OutputPathError


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """`path` as a `Path` once a file can be written there; else :class:`OutputPathError`.

    Creating a (nameless, at once deleted) file is the only test that holds everywhere: the
    permission bits say nothing for root, a read-only file system or a full disk."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputPathError(f"{path}: is a folder; give a file name to write")
    if not folder.exists():
        raise OutputPathError(f"{path}: cannot be written, the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputPathError(f"{path}: cannot be written, {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputPathError(
            f"{path}: cannot be written, the folder {folder} takes no new file ({exc.strerror or exc})"
        ) from None
    return path
