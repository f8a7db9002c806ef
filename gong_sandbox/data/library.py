"""The call library: public folders of each workspace and the calls people put in them.

Folders follow from the seed, per workspace (a nested folder and an empty one among them;
every third workspace has none). A call's place in a folder follows from its id alone, so
calls added later never move the calls already filed; a call appears in a folder once it
has been added (`created`, after the call), and one call in a few is in two folders.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gong_sandbox.data.company import gong_id
from gong_sandbox.data.dataset import Call

# Each folder's name, the folder it sits in (by index, None: a root) and the calls it
# gets per thousand of its workspace's calls.
FOLDERS = (
    ("Best discovery calls", None, 20),
    ("Objection handling", None, 15),
    ("Pricing objections", 1, 15),
    ("Onboarding (coming soon)", None, 0),
)
# Per thousand calls of "Best discovery calls", also filed under "Pricing objections".
ALSO_IN_PRICING_PER_MILLE = 500
NOTES = ("Great open questions at 04:10", "", "Listen to how the budget question lands")
MAX_FILING_DELAY_SECONDS = 3 * 86_400


@dataclass(frozen=True)
class Folder:
    payload: dict[str, Any]  # the API's folder object
    index: int  # in FOLDERS
    workspace_id: str

    @property
    def id(self) -> str:
        return str(self.payload["id"])


class Library:
    """The folders of every workspace, and which calls each holds."""

    def __init__(
        self,
        *,
        seed: int,
        workspace_ids: list[str],
        user_ids: list[str],
        founded: datetime,
        zone: ZoneInfo,
    ) -> None:
        self._seed = seed
        self._user_ids = user_ids
        self._zone = zone
        self.folders: list[Folder] = []
        for number, workspace_id in enumerate(workspace_ids):
            if number % 3 == 2:
                continue  # a workspace with no public folder
            rng = random.Random(f"{seed}:library:{workspace_id}")
            ids = [gong_id(rng) for _ in FOLDERS]
            for index, (name, parent, _) in enumerate(FOLDERS):
                updated = founded + timedelta(seconds=rng.randint(0, 700 * 86_400))
                payload = {
                    "id": ids[index],
                    "name": name,
                    "parentFolderId": None if parent is None else ids[parent],
                    "createdBy": rng.choice(user_ids),
                    "updated": updated.astimezone(zone).isoformat(),
                }
                self.folders.append(Folder(payload, index, workspace_id))

    def workspace_folders(self, workspace_id: str | None) -> list[dict[str, Any]]:
        return [
            folder.payload
            for folder in self.folders
            if workspace_id is None or folder.workspace_id == workspace_id
        ]

    def folder(self, folder_id: str) -> Folder | None:
        return next((folder for folder in self.folders if folder.id == folder_id), None)

    def _roll(self, folder_index: int, call: Call) -> int:
        digest = hashlib.blake2b(
            f"{self._seed}:filed:{folder_index}:{call.id}".encode(), digest_size=4
        ).digest()
        return int.from_bytes(digest, "big") % 1000

    def _filed(self, folder: Folder, call: Call) -> bool:
        if call.workspace_id != folder.workspace_id:
            return False
        per_mille = FOLDERS[folder.index][2]
        if self._roll(folder.index, call) < per_mille:
            return True
        # Pricing objections also holds half of the best discovery calls.
        return (
            FOLDERS[folder.index][0] == "Pricing objections"
            and self._roll(0, call) < FOLDERS[0][2]
            and self._roll(len(FOLDERS), call) < ALSO_IN_PRICING_PER_MILLE
        )

    def folder_calls(
        self, folder: Folder, calls: list[Call], now: datetime
    ) -> list[dict[str, Any]]:
        """The calls in the folder by `now` (each added some time after it took place)."""
        items = []
        for call in calls:
            if not self._filed(folder, call):
                continue
            rng = random.Random(f"{self._seed}:filing:{folder.id}:{call.id}")
            added_at = call.started_at + call.duration + rng.randint(600, MAX_FILING_DELAY_SECONDS)
            if added_at > now.timestamp():
                continue
            meta = json.loads(call.payload)
            item: dict[str, Any] = {
                "id": str(call.id),
                "title": meta["title"],
                "addedBy": rng.choice(self._user_ids),
                "created": datetime.fromtimestamp(added_at, self._zone).isoformat(),
                "url": meta["url"],
                "snippet": {
                    "fromSec": (start := rng.randint(0, call.duration // 2)),
                    "toSec": min(start + rng.randint(30, 300), call.duration),
                },
            }
            note = rng.choice((*NOTES, None))
            if note is not None:  # the note is optional: absent when there is none
                item["note"] = note
            items.append(item)
        return items
