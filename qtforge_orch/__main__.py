"""``python -m qtforge_orch``: the ``qtforge-orch`` command line."""

import sys

from .cli import main

sys.exit(main())
