"""`python -m workers`: see workers.cli."""

from workers.cli import main

main()
