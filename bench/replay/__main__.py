"""`python -m bench.replay`."""

import sys

from bench.replay.run import main

sys.exit(main())
