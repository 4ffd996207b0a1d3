"""`python -m fediverse_biz.cli` runs the command as the installed `fediverse-biz` script does."""

from fediverse_biz.cli import main

main()
