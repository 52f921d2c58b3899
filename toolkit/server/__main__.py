"""``python -m toolkit.server`` (the same as ``python -m toolkit serve``)."""

import sys

from .cli import main

sys.exit(main())
