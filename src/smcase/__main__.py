"""``python -m smcase``: the same as the ``smcase`` command."""

from smcase.cli import main

main()
