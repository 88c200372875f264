"""``python -m seeinggan.cli``: the same as the ``seeinggan`` command."""

import sys

from seeinggan.cli import main

sys.exit(main())
