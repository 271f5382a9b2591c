"""Writing a file atomically: a temporary file beside it, renamed over it once whole.

Weight files, run folders and CSV exports all go through here, so a crash or a full disk mid-write
leaves the previous file as it was, never half of a new one."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from pathlib import Path

#: A save's temporary file beside its target: `.{name}.{pid}.{random}.tmp`. The writer's pid tells
#: a stale one (its writer was killed, or the power failed) from one being written now.
_TEMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")
#: A temporary file older than this is stale whoever wrote it: a save takes seconds.
_STALE_S = 24 * 3600


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`: a crash leaves
    the old file whole. A symlink is written through to its target, as editors do, and the target
    keeps its permissions; temporary files that earlier, killed saves left there are removed."""
    path = Path(os.path.realpath(path))
    _remove_stale_temps(path)
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # A new file: 0o666 lets the umask decide the mode, as an ordinary open() would. Over an old
    # one: created private, then given the old file's mode, so it is never more open than that.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_temps(path: Path) -> None:
    """Remove this file's temporary files whose writer is gone (or that are a day old)."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        if not match or match["name"] != path.name:
            continue
        with contextlib.suppress(OSError):
            if _writer_gone(int(match["pid"])) or time.time() - entry.stat().st_mtime > _STALE_S:
                os.unlink(entry.path)


def _writer_gone(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return False  # elsewhere os.kill(pid, 0) would end the process; then age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False
