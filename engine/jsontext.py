"""JSON read from a user's file (a spec, a weight file's metadata).

Every way such text can be malformed — not UTF-8, not JSON, a number with thousands of digits,
nesting a thousand deep — becomes one short message naming the source, and nothing nested deeper
than :data:`MAX_DEPTH` gets through, so the code that checks and prints the value never recurses
without bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: A spec is nested four deep ({"layers": [{"kernel": [5, 5]}]}); metadata about as much.
MAX_DEPTH = 32
#: A whole number with more digits than this is no size, count or seed this program uses.
MAX_DIGITS = 40


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise ValueError(f"holds a whole number with {digits:,} digits")
    return int(text)


def _too_deep(value: Any) -> bool:
    """Whether `value` nests deeper than MAX_DEPTH; iterative, so any depth is safe to ask."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse(text: str | bytes, error: Callable[[str], Exception]) -> Any:
    """The value in `text`; any problem raises ``error(reason)``, the caller's exception naming
    its file, with the reason in a few words."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"is not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start:,})") from None
    try:
        value = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise error(f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise error(f"is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # from _int
        raise error(str(exc)) from None
    if _too_deep(value):
        raise error(f"is nested too deeply (more than {MAX_DEPTH} levels)")
    return value
