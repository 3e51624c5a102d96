"""``python -m mixsearch.cli``: the same entry point as ``mixsearch`` and ``python -m mixsearch``."""

import sys

from mixsearch.cli.main import main

sys.exit(main())
