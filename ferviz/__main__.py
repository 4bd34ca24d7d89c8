"""``python -m ferviz`` is the ``ferviz`` command."""

import sys

from ferviz.cli import main

sys.exit(main())
