"""`python -m evaldsl` runs the command line."""

from .cli import main

main()
