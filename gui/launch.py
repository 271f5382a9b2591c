"""The `convscope` command: the window with no arguments or with a weight file or network to open
(`convscope model.safetensors`), the engine's CLI with any other.

Qt is imported only when the window opens, so `convscope train` starts fast and runs headless.
Ctrl-C while either starts (importing NumPy or Qt takes a moment) ends quietly, as it does later."""

from __future__ import annotations

import sys
from pathlib import Path

#: What `convscope FILE` opens in the window: the weight files and networks File > Open opens.
WINDOW_FILES = (".safetensors", ".json")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opened = argv[0] if len(argv) == 1 and Path(argv[0]).suffix in WINDOW_FILES else None
        if argv and opened is None:
            from engine.cli import main as cli_main

            return cli_main(argv)
        from gui.app import main as app_main

        return app_main(path=opened)
    except KeyboardInterrupt:
        print("convscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
