"""`python -m tap_gong.sandbox` serves the sandbox, like `tap-gong-sandbox`."""

from tap_gong.sandbox.cli import main

main()
