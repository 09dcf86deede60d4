"""``python -m lib.sample MODEL``: the sampling command (lib.sample.command)."""

from lib.sample.command import main

main()
