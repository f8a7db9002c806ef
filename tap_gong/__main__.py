"""`python -m tap_gong` runs the tap."""

from tap_gong.tap import TapGong

TapGong.cli()
