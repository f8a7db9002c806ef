"""The floor for any Python tap: fetch pages with `requests`, print each record as a JSON line.

Replays a plan (a JSON file, the one argument): the sandbox URL, the credentials,
and the first request of every filter the tap made. It follows each filter's
cursors to its last page, as the tap does, so both fetch exactly the same pages.
Nothing else: no schema, no state, no flushing per record. Like the tap, it writes
a `calls` record from each /v2/calls/extensive item's `metaData` when the plan's
streams have calls and it reads no /v2/calls page (tap_gong/shared_pages.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import requests

# path -> (stream name, the key of the page's record list)
STREAMS = {
    "/v2/calls": ("calls", "calls"),
    "/v2/calls/extensive": ("call_details", "calls"),
    "/v2/calls/transcript": ("call_transcripts", "callTranscripts"),
    "/v2/stats/interaction": ("interaction_stats", "peopleInteractionStats"),
}


EXTENSIVE = "/v2/calls/extensive"


def fetch_filter(
    session: requests.Session, url: str, first: dict[str, Any], calls_from_extensive: bool
) -> None:
    """Write every record of one filter, page by page, to stdout."""
    stream, items_key = STREAMS[first["path"]]
    with_calls = calls_from_extensive and first["path"] == EXTENSIVE
    # GET sends its filter (and cursor) in the query, POST in the JSON body.
    in_query = first["method"] == "GET"
    request = dict(first["query"] if in_query else first["body"])
    write = sys.stdout.write
    while True:
        response = session.request(
            first["method"],
            url + first["path"],
            params=request if in_query else None,
            json=None if in_query else request,
        )
        if response.status_code == 404:  # Gong's "no data in this range"
            return
        response.raise_for_status()
        page = response.json()
        for record in page[items_key]:
            write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            if with_calls:
                call = {"type": "RECORD", "stream": "calls", "record": record["metaData"]}
                write(json.dumps(call) + "\n")
        cursor = page["records"].get("cursor")
        if not cursor:
            return
        request["cursor"] = cursor


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    with requests.Session() as session:
        session.auth = (plan["access_key"], plan["access_key_secret"])
        paths = {first["path"] for first in plan["filters"]}
        calls_from_extensive = "calls" in plan["streams"] and "/v2/calls" not in paths
        for first in plan["filters"]:
            fetch_filter(session, plan["url"], first, calls_from_extensive)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
