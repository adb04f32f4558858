"""`python -m bench`: the whole suite (bench/suite/run.py)."""

import sys

from bench.suite.run import main

sys.exit(main())
