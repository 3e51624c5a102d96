import sys

from mixsearch.cli.main import main

sys.exit(main())
