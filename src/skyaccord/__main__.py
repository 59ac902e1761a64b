"""``python -m skyaccord``: the command line."""

from skyaccord.cli import main

if __name__ == "__main__":
    main()
