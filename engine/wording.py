"""How counts are written for people: the one owner of singulars and plurals ("1 channel",
"8 channels"), so the CLI and the window never write "1 channels" or "layer(s)"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word`, in the plural unless `count` is 1; `many` where adding "s" is wrong."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
