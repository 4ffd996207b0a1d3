"""`python -m fediverse_biz.cli` runs the command as the installed `fediverse-biz` script does."""

from . import main

main()
