"""``python -m odin_drills.cli``: the ``odin`` command without its console script."""

import sys

from odin_drills.cli.main import main

sys.exit(main())
