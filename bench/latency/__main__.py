"""`python -m bench.latency`."""

import sys

from bench.latency.run import main

sys.exit(main())
