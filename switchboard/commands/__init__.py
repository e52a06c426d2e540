"""One module per ``switchboard`` command; each defines ``register(subparsers)``."""
