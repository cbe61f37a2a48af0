"""``python -m byhand``: the same as the ``byhand`` command."""

import sys

from byhand.cli import main

sys.exit(main())
