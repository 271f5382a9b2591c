"""The window's preferences: plain values only, each read back with a type and range check.

QSettings turns a value written as ``@Variant(…)`` back into the object it holds, and for a
Python object PySide does that by unpickling it, as soon as any key of its section is read or the
file is rewritten. So before QSettings reads the file, its text is checked line by line: an entry
whose value is not plain text, a list of plain text, a byte array or nothing (the only kinds this
window writes) is removed from the file, unread. Every value is then checked for its type and
range before it is used; a damaged one gives way to the default, and the window says so once.
The engine's environment variables get the same treatment: a bad one is ignored, as if unset."""

from __future__ import annotations

import logging
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from engine.errors import ConvScopeError, clip
from engine.limits import ENV_VARS, parse_size
from engine.parallel import THREADS_VAR, parse_threads

log = logging.getLogger("convscope")

#: The environment variables the engine reads, each with the parser that refuses a bad value.
ENVIRONMENT: dict[str, Callable[[str, str], Any]] = {
    THREADS_VAR: parse_threads,
    **{var: parse_size for var in ENV_VARS.values()},
}

# What QSettings' INI writer produces for plain values, and nothing it would read as an object:
# an escape it writes (never one that could spell a character it then reads as "@"), an element
# that starts with a plain character, "@@" (its escape for a leading "@"), a byte array or nothing.
_ESCAPE = r'\\(?:[\\"abtnvfr]|x[0-9a-fA-F]{1,2}(?![0-9a-fA-F])|0(?![0-7]))'
_CHAR = rf'(?:[^\\",;]|{_ESCAPE})'
_QUOTED_CHAR = rf'(?:[^\\"]|{_ESCAPE})'
#: How an element may start: a plain character, "@@", or an escaped backslash or quote (a path
#: like \\server\share); never an escape that could spell "@" or a space Qt might skip.
_START = r'@@|\\[\\"]'
_ELEMENT = (
    rf"@Invalid\(\)|@ByteArray\({_CHAR}*\)|\"@ByteArray\({_QUOTED_CHAR}*\)\""
    rf'|"(?:(?:[^\\"@]|{_START}){_QUOTED_CHAR}*)?"'
    rf'|(?:[^\\",;\s@]|{_START}){_CHAR}*'
)
_PLAIN_VALUE = re.compile(rf"(?:(?:{_ELEMENT})(?:\s*,\s*(?:{_ELEMENT}))*)?")
_SECTION = re.compile(r"\[[^\]]*\]")


def _refused_entries(path: Path) -> list[str]:
    """Remove from the INI file at `path` every line QSettings could read as something other than
    plain text, numbers or bytes; returns the keys of the entries removed."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:  # no file yet, or unreadable: QSettings starts from nothing
        return []
    kept, refused = [], []
    for raw in lines:
        try:
            line = raw.rstrip(b"\r").decode("utf-8").strip()
        except UnicodeDecodeError:
            refused.append("a line that is not UTF-8 text")
            continue
        key, sep, value = line.partition("=")
        if not line or line.startswith((";", "#")) or _SECTION.fullmatch(line):
            kept.append(raw)
        elif sep and key.strip() and not value.endswith("\\") and _PLAIN_VALUE.fullmatch(value.strip()):
            kept.append(raw)
        else:
            refused.append(clip(key.strip() or line, 60))
    if refused:
        tmp = path.with_name(f".{path.name}.scrubbed")
        tmp.write_bytes(b"\n".join(kept))
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    return refused


def _environment_problems() -> list[tuple[str, str]]:
    """Each engine variable in this process's environment that its parser refuses, with why,
    removed from it so the engine uses its default."""
    problems = []
    for var, parse in ENVIRONMENT.items():
        text = os.environ.get(var, "").strip()
        if not text:
            continue
        try:
            parse(text, var)
        except ConvScopeError as exc:
            problems.append((var, str(exc)))
            del os.environ[var]
    return problems


class Preferences:
    """The window's QSettings, cleaned before its first read, with checked readers and a writer of
    plain values. `problems` lists what was refused and why, for the one notice the window shows."""

    def __init__(self, settings: QSettings):
        ini = settings.format() == QSettings.Format.IniFormat
        if not ini and not (settings.format() == QSettings.Format.NativeFormat and sys.platform == "linux"):
            raise ValueError("the window's preferences must be an INI file, so they can be checked as text")
        self.settings = settings
        refused = _refused_entries(Path(settings.fileName()))
        if refused:
            settings.sync()  # QSettings re-reads the cleaned file before any value is parsed
        self.problems = [(key, "not a plain value, ignored unread") for key in refused]
        self.problems += _environment_problems()

    def notice(self) -> str | None:
        """The one line that says which preferences gave way to their defaults, or None."""
        if not self.problems:
            return None
        for name, why in self.problems:
            log.warning("preference %s: %s", name, why)
        names = ", ".join(dict.fromkeys(name for name, _ in self.problems))
        return clip(f"Damaged preferences gave way to their defaults (the log says why): {names}")

    def _raw(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        value = self.settings.value(key)
        if value is None or (isinstance(value, kinds) and not isinstance(value, bool)):
            return value
        self.problems.append((key, f"expected {what}, found {type(value).__name__}"))
        return None

    def _refuse(self, key: str, text: str, why: str) -> None:
        self.problems.append((key, f"{clip(repr(text), 40)} {why}"))

    def number(self, key: str, kind: type[int] | type[float], low: float, high: float) -> int | float | None:
        """A whole (`int`) or finite (`float`) number within [low, high], or None when there is
        none or it is damaged (noted in `problems`)."""
        # Text as read from the file; a number as QSettings keeps it when this process wrote it.
        value = self._raw(key, (str, int, float), "a number")
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else repr(value)
        if kind is int and not re.fullmatch(r"[-+]?[0-9]{1,19}", text):
            return self._refuse(key, text, "is not a whole number")
        try:
            value = kind(text)
        except ValueError:
            return self._refuse(key, text, "is not a number")
        if not math.isfinite(value) or not low <= value <= high:
            return self._refuse(key, text, f"is not a number from {low:g} to {high:g}")
        return value

    def choice(self, key: str, choices: Sequence[str]) -> str | None:
        """One of `choices`, or None when there is none or it is another (noted in `problems`)."""
        text = self._raw(key, (str,), "a name")
        if text is None or text in choices:
            return text
        return self._refuse(key, text, f"is not one of {', '.join(choices)}")

    def text(self, key: str) -> str | None:
        return self._raw(key, (str,), "text")

    def texts(self, key: str) -> list[str]:
        """A list of text; QSettings reads a one-element list back as its element."""
        value = self._raw(key, (str, list), "a list of text")
        if value is None:
            return []
        values = [value] if isinstance(value, str) else value
        if all(isinstance(v, str) for v in values):
            return values
        self.problems.append((key, "expected a list of text"))
        return []

    def data(self, key: str) -> QByteArray | None:
        return self._raw(key, (QByteArray,), "bytes")

    def set(self, key: str, value: str | int | float | list[str] | QByteArray) -> None:
        """Store a plain value; anything else would be written as a pickled object."""
        plain = isinstance(value, str | int | float | QByteArray) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not plain:
            raise TypeError(f"preference {key} must be a plain value, got {type(value).__name__}")
        self.settings.setValue(key, value)
