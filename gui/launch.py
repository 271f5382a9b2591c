"""The `convscope` command: the window with no arguments, the engine's CLI with any.

Qt is imported only when the window opens, so `convscope train` starts fast and runs headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        from engine.cli import main as cli_main

        return cli_main(argv)
    from gui.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
