"""``python -m skyaccord``: the command line."""

from skyaccord.cli import main

main()
