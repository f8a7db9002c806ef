"""`python -m tap_gong` runs the tap."""

from tap_gong.cli import main

main()
