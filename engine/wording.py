"""How counts are written for people: the one owner of singulars and plurals ("1 channel",
"8 channels"), so the CLI and the window never write "1 channels" or "layer(s)"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word`, in the plural unless `count` is 1: "es" after s, x, sh and tch ("2
    classes", "2 mini-batches"), else "s"; `many` where neither is right."""
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {many or word + ('es' if word.endswith(('s', 'x', 'sh', 'tch')) else 's')}"
