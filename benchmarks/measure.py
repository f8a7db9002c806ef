"""Run a command and write its own CPU time, peak RSS and exit code to a JSON file.

    python measure.py RESULT_FILE COMMAND...

Why not wait4 from the benchmark itself: Linux counts the memory of the process a
child was forked from (up to exec) in the child's ru_maxrss, and the benchmark
hosts a sandbox of 100,000 calls. Forked from this small process instead, the
command's peak RSS is its own. stdin, stdout and stderr pass straight through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    result_file, *command = sys.argv[1:]
    started = time.monotonic()  # system-wide, so comparable with the benchmark's clock
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    ended = time.monotonic()
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    result = {
        "returncode": child.returncode,
        "started": started,
        "wall_seconds": ended - started,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,  # Linux reports KiB
    }
    Path(result_file).write_text(json.dumps(result))
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
