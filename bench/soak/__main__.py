"""`python -m bench.soak --minutes M`."""

import sys

from bench.soak.run import main

sys.exit(main())
