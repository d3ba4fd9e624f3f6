"""``python -m aloft`` is the ``aloft`` command."""

from aloft.cli import main

main()
