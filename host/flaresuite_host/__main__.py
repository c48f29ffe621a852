import sys

from flaresuite_host.cli import main

sys.exit(main())
