"""One module per `racetrace` subcommand, each with `add_parser(subparsers)`."""
