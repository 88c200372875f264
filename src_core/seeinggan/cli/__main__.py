import sys

from seeinggan.cli import main

sys.exit(main())
