"""A stand-in target: reads a tap's Singer messages from stdin and discards them.

Keeps only what the benchmark reads afterwards, the number of RECORD messages and
the last STATE, and writes them as JSON to the file named by its one argument.
It runs in its own process, as a target would, so its CPU is nobody else's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# A Singer message line starts with its type: `{"type":"RECORD",...` or `{"type": "RECORD", ...`.
TYPE_PREFIX_BYTES = 20


def main() -> None:
    records = 0
    last_state = None
    for line in sys.stdin.buffer:
        head = line[:TYPE_PREFIX_BYTES]
        if b'"RECORD"' in head:
            records += 1
        elif b'"STATE"' in head:
            last_state = line
    state = json.loads(last_state)["value"] if last_state else None
    Path(sys.argv[1]).write_text(json.dumps({"records": records, "state": state}))


if __name__ == "__main__":
    main()
