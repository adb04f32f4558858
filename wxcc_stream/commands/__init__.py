"""One module per `wxcc-stream` subcommand; each exposes `register(subparsers)`."""
