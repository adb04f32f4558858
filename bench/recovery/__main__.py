"""`python -m bench.recovery`."""

import sys

from bench.recovery.run import main

sys.exit(main())
