"""`python -m gong_sandbox` serves the sandbox, like `tap-gong-sandbox`."""

from gong_sandbox.cli import main

main()
