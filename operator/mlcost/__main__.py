"""`python -m mlcost` runs the CLI."""

import sys

from mlcost.cli import main

sys.exit(main())
