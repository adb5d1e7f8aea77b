"""``python -m obskit`` runs the command line."""

import sys

from obskit._cli import main

sys.exit(main())
