import sys

from flaresuite.cli import main

sys.exit(main())
