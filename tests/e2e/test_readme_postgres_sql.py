"""The README's PostgreSQL queries, run verbatim against the tables the pipeline loaded.

Each ```sql block of "Load into PostgreSQL" is read out of README.md by its first
line (a `-- title` comment), so the README cannot drift from what runs. Each answer is
compared with the same question answered in Python from what the sandbox holds.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.meltano_project import REPO_ROOT
from tests.e2e.pipeline_scenario import UTC, PipelineHistory, sandbox_settings
from tests.e2e.warehouses import PostgresWarehouse

SECTION = "## Load into PostgreSQL"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)

Rows = dict[Any, dict[str, Any]]


def readme_queries() -> dict[str, str]:
    """The section's SQL blocks by their first line's comment."""
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    section = readme[start : readme.index("\n## ", start + len(SECTION))]
    queries = {}
    for block in SQL_BLOCK.findall(section):
        title, _, _ = block.partition("\n")
        queries[title.removeprefix("-- ")] = block
    return queries


def query(title_start: str) -> str:
    (sql,) = (sql for title, sql in readme_queries().items() if title.startswith(title_start))
    return sql


@pytest.fixture(scope="module")
def history(history_of: Callable[[str], PipelineHistory]) -> PipelineHistory:
    return history_of("postgres")


@pytest.fixture(scope="module")
def gong(history: PipelineHistory) -> dict[str, Rows]:
    """What the tables hold after the last run: equal to Gong (test_meltano_pipelines)."""
    return history.scheduled_run.gong.tables


def test_participants_match_crm_contacts_by_email_in_any_case(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    outside = [p for p in gong["call_participants"].values() if p["affiliation"] != "Internal"]
    emails = sorted({p["emailaddress"] for p in outside if p["emailaddress"]})
    # A CRM's own spelling: ASCII in other case (lower() folds only ASCII under the C
    # collation), and non-ASCII as Gong has it.
    ascii_emails = [email for email in emails if email.isascii()][:3]
    other_emails = [email for email in emails if not email.isascii()][:1]
    assert ascii_emails
    assert other_emails
    crm_spelling = [email.upper() for email in ascii_emails] + other_emails
    contacts = {f"crm-{n}": email for n, email in enumerate(crm_spelling)}
    postgres_warehouse.execute("CREATE SCHEMA IF NOT EXISTS crm")
    postgres_warehouse.execute("CREATE TABLE crm.contacts (id text PRIMARY KEY, email text)")
    for contact in {**contacts, "crm-unknown": "nobody@example.com"}.items():
        postgres_warehouse.execute("INSERT INTO crm.contacts VALUES (%s, %s)", contact)
    contact_of = {email.lower(): contact_id for contact_id, email in contacts.items()}

    rows = postgres_warehouse.query(query("Participants matched to your CRM's contacts"))

    assert sorted((call, email, contact) for call, _, email, contact in rows) == sorted(
        (p["callid"], p["emailaddress"], contact_of[p["emailaddress"].lower()])
        for p in outside
        if p["emailaddress"] and p["emailaddress"].lower() in contact_of
    )


def test_transcripts_join_participants_by_speaker_id(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    talk_ms: Counter[tuple[str, str]] = Counter()
    for transcript in gong["call_transcripts"].values():
        for monologue in transcript["transcript"]:
            for sentence in monologue["sentences"]:
                talk_ms[transcript["callid"], monologue["speakerId"]] += (
                    sentence["end"] - sentence["start"]
                )
    name_of = {
        (p["callid"], p["speakerid"]): p["name"]
        for p in gong["call_participants"].values()
        if p["speakerid"]
    }

    rows = postgres_warehouse.query(query("Who spoke how long on each call"))

    assert {(call, speaker): (name, seconds) for call, speaker, name, _, seconds in rows} == {
        key: (name_of.get(key), Decimal(ms) / 1000) for key, ms in talk_ms.items()
    }
    assert any(name for _, _, name, _, _ in rows)


def test_participants_join_users_by_user_id(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    users = gong["users"]

    rows = postgres_warehouse.query(query("The company's people on each call"))

    expected = [
        (
            p["callid"],
            p["userid"],
            f"{users[p['userid']]['firstname']} {users[p['userid']]['lastname']}",
        )
        for p in gong["call_participants"].values()
        if p["userid"] in users
    ]
    assert sorted((call, user, name) for call, user, name, _ in rows) == sorted(expected)
    assert expected


def test_calls_join_their_opportunities_through_context(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    expected = set()
    for call in gong["call_details"].values():
        for link in call["context"] or []:
            for crm_object in link["objects"]:
                if (crm_object["objectType"], crm_object["timing"]) == (
                    "Opportunity",
                    "TimeOfCall",
                ):
                    fields = {f["name"]: f["value"] for f in crm_object["fields"]}
                    expected.add(
                        (call["id"], crm_object["objectId"], fields["StageName"], fields["Amount"])
                    )

    rows = postgres_warehouse.query(query("Calls and their CRM opportunities"))

    assert expected
    assert {
        (call, opp, stage, float(amount)) for call, _, _, opp, stage, amount in rows
    } == expected


def test_coaching_coverage_counts_each_reps_hosted_calls_that_got_a_review(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    hosted: defaultdict[str, set[str]] = defaultdict(set)
    for call in gong["calls"].values():
        hosted[call["primaryuserid"]].add(call["id"])
    reviewed: defaultdict[str, set[str]] = defaultdict(set)
    for review in gong["answered_scorecards"].values():
        if review["callid"] in hosted[review["revieweduserid"]]:
            reviewed[review["revieweduserid"]].add(review["callid"])

    rows = postgres_warehouse.query(query("Coaching coverage per rep"))

    assert {rep: (calls, reviews) for rep, calls, reviews, _ in rows} == {
        user["emailaddress"]: (len(hosted[user_id]), len(reviewed[user_id]))
        for user_id, user in gong["users"].items()
    }
    assert any(reviews for _, _, reviews, _ in rows)


def test_stats_days_join_the_calls_their_user_hosted_that_day(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    zone = ZoneInfo(sandbox_settings().time_zone)
    email_of = {
        user_id: s["useremailaddress"] for (user_id, _), s in gong["interaction_stats"].items()
    }
    calls_per_user_day = Counter(
        (email_of.get(c["primaryuserid"]), c["started"].replace(tzinfo=UTC).astimezone(zone).date())
        for c in gong["calls"].values()
    )

    rows = postgres_warehouse.query(query("Each user's company day"))

    assert len(rows) == len(gong["interaction_stats"])
    assert {(email, day): count for email, day, count, *_ in rows} == {
        (email, day): calls_per_user_day[email, day] for email, day, *_ in rows
    }
