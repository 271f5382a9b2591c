"""`python -m engine ...`: the headless CLI, for machines without the window's dependencies."""

import sys

from engine.cli import main

sys.exit(main(sys.argv[1:]))
