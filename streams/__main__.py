"""``python -m streams``: the same as the ``ledgerstream`` command."""

import sys

from streams.cli import main

sys.exit(main())
