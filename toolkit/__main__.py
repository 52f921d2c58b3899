"""``python -m toolkit``: the command-line dispatcher (see ``toolkit.cli``)."""

import sys

from .cli import main

sys.exit(main())
