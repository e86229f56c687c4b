"""`python -m evaldsl` runs the command line."""

from .cli.app import main

main()
