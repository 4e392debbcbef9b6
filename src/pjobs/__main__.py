"""`python -m pjobs`: the same command line as the `pjobs` script."""

from pjobs.cli import main

main()
