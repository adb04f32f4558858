"""`python -m bench.sink`."""

import sys

from bench.sink.run import main

sys.exit(main())
