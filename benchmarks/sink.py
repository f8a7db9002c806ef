"""A stand-in target: reads a tap's Singer messages from stdin and discards them.

Keeps only what the benchmark reads afterwards, the number of RECORD messages (in all
and per stream) and the last STATE, and writes them as JSON to the file named by its one argument.
It runs in its own process, as a target would, so its CPU is nobody else's.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# A Singer message line starts with its type: `{"type":"RECORD",...` or `{"type": "RECORD", ...`.
TYPE_PREFIX_BYTES = 20
# ...followed by its stream: `"stream":"calls"` or `"stream": "calls"`.
STREAM_KEY = b'"stream":'


def main() -> None:
    records: Counter[str] = Counter()
    last_state = None
    for line in sys.stdin.buffer:
        head = line[:TYPE_PREFIX_BYTES]
        if b'"RECORD"' in head:
            name_start = line.index(b'"', line.index(STREAM_KEY) + len(STREAM_KEY)) + 1
            records[line[name_start : line.index(b'"', name_start)].decode()] += 1
        elif b'"STATE"' in head:
            last_state = line
    state = json.loads(last_state)["value"] if last_state else None
    Path(sys.argv[1]).write_text(
        json.dumps({"records": records.total(), "streams": records, "state": state})
    )


if __name__ == "__main__":
    main()
