"""The `convscope` command: the window with no arguments, the engine's CLI with any.

Qt is imported only when the window opens, so `convscope train` starts fast and runs headless.
Ctrl-C while either starts (importing NumPy or Qt takes a moment) ends quietly, as it does later."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv:
            from engine.cli import main as cli_main

            return cli_main(argv)
        from gui.app import main as app_main

        return app_main()
    except KeyboardInterrupt:
        print("convscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
