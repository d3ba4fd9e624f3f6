"""``python -m aloft`` is the ``aloft`` command."""

from aloft.cli import main

# Guarded: the check process is spawned, and a spawned child imports the parent's main module.
if __name__ == "__main__":
    main()
