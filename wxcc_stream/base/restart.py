"""The exit code by which a long-running service asks to be started again."""

RESTART_EXIT_CODE = 75
"""A service that exits with this (sysexits' EX_TEMPFAIL) wants to be started again: the
worker and the API do, when another topic generation was promoted (docs/replay.md);
`wxcc-stream run`'s supervisor and the compose services start them again."""
