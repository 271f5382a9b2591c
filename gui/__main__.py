"""`python -m gui` opens the window, like `convscope` with no arguments."""

import sys

from gui.app import main

sys.exit(main())
