"""The demo (`python -m demo`) and the Meltano runner it shares with tests/e2e; not in the wheel."""
