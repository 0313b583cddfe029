"""``python -m qtforge_orch.cli``: the same as the ``qtforge-orch`` command."""

import sys

from . import main

sys.exit(main())
