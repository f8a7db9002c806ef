"""The PostgreSQL guide's queries, run verbatim against the tables the pipeline loaded.

Each ```sql block of docs/postgres.md is read out of it by its first line (a `-- title`
comment), so the guide cannot drift from what runs. Each answer is
compared with the same question answered in Python from what the sandbox holds.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.docs import blocks, doc
from tests.e2e.pipeline_scenario import PipelineHistory, calls_hosted_per_user_day
from tests.e2e.warehouses import PostgresWarehouse

GUIDE = doc("docs/postgres.md")

Rows = dict[Any, dict[str, Any]]


def guide_queries() -> dict[str, str]:
    """The guide's SQL blocks by their first line's comment."""
    queries = {}
    for block in blocks(GUIDE):
        if block.language == "sql":
            title, _, _ = block.text.partition("\n")
            queries[title.removeprefix("-- ")] = block.text
    return queries


def query(title_start: str) -> str:
    (sql,) = (sql for title, sql in guide_queries().items() if title.startswith(title_start))
    return sql


def test_every_query_of_the_guide_is_run_by_a_test_here() -> None:
    asked = re.findall(r'query\(\s*"([^"]+)"', Path(__file__).read_text())
    for title in guide_queries():
        assert any(title.startswith(start) for start in asked), f"no test runs: {title}"


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
    calls_per_user_day = calls_hosted_per_user_day(gong)

    rows = postgres_warehouse.query(query("Each user's company day"))

    assert len(rows) == len(gong["interaction_stats"])
    assert {(email, day): count for email, day, count, *_ in rows} == {
        (email, day): calls_per_user_day[email, day] for email, day, *_ in rows
    }


def rounded(numerator: int, denominator: int, places: str) -> Decimal:
    """numerator / denominator rounded as PostgreSQL's round() does (half away from zero)."""
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), ROUND_HALF_UP)


def test_calls_per_opportunity_count_each_call_once_across_both_timings(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    calls: defaultdict[str, set[str]] = defaultdict(set)
    starts: defaultdict[str, list[Any]] = defaultdict(list)
    stages: defaultdict[str, list[str]] = defaultdict(list)
    for row in gong["call_crm_objects"].values():
        if row["objecttype"] != "Opportunity":
            continue
        calls[row["objectid"]].add(row["callid"])
        starts[row["objectid"]].append(row["started"])
        if row["timing"] == "Now":
            stages[row["objectid"]] += [
                str(f["value"]) for f in row["fields"] or [] if f["name"] == "StageName"
            ]

    rows = postgres_warehouse.query(query("Calls per CRM opportunity"))

    assert calls
    assert {opp: (n, first, last, stage) for opp, n, first, last, stage in rows} == {
        opp: (len(calls[opp]), min(starts[opp]), max(starts[opp]), max(stages[opp], default=None))
        for opp in calls
    }


def test_tracker_hit_rate_by_outcome_is_the_share_of_the_outcomes_calls_it_fired_on(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    outcome_of = {
        call_id: call["content"]["callOutcome"]["name"]
        for call_id, call in gong["call_details"].items()
        if (call["content"] or {}).get("callOutcome")
    }
    calls_per_outcome = Counter(outcome_of.values())
    hits: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for (call_id, _), tracker in gong["call_trackers"].items():
        if call_id in outcome_of:
            hits[outcome_of[call_id], tracker["name"]].add(call_id)

    rows = postgres_warehouse.query(query("Tracker hit rate by call outcome"))

    assert hits
    assert {(outcome, tracker): rest for outcome, tracker, *rest in rows} == {
        (outcome, tracker): [
            calls_per_outcome[outcome],
            len(call_ids),
            rounded(100 * len(call_ids), calls_per_outcome[outcome], "0.1"),
        ]
        for (outcome, tracker), call_ids in hits.items()
    }


def test_average_answer_per_question_averages_the_scores_of_its_revision(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    scores: defaultdict[tuple[str, str, str], list[int]] = defaultdict(list)
    for answer in gong["answered_scorecard_answers"].values():
        if answer["score"] is not None:
            key = (answer["scorecardid"], answer["questionid"], answer["questionrevisionid"])
            scores[key].append(answer["score"])
    expected = {}
    for (scorecard_id, question_id, revision_id), question in gong["scorecard_questions"].items():
        if question["questiontype"] == "RANGE":
            given = scores[scorecard_id, question_id, revision_id]
            expected[scorecard_id, question["questiontext"]] = (
                gong["scorecards"][scorecard_id]["scorecardname"],
                len(given),
                rounded(sum(given), len(given), "0.01") if given else None,
            )

    rows = postgres_warehouse.query(query("Average answer per scorecard question"))

    assert any(n for _, n, _ in expected.values())
    assert {(card, question): (name, n, avg) for card, name, question, n, avg in rows} == expected


def test_calls_per_library_folder_count_a_call_in_two_folders_in_each(
    gong: dict[str, Rows], postgres_warehouse: PostgresWarehouse
) -> None:
    folders = gong["library_folders"]
    in_folder: defaultdict[str, list[str]] = defaultdict(list)
    for folder_id, call_id in gong["library_folder_calls"]:
        in_folder[folder_id].append(call_id)
    durations = {call_id: call["duration"] for call_id, call in gong["calls"].items()}

    def minutes(call_ids: list[str]) -> Decimal | None:
        known = [durations[c] for c in call_ids if c in durations]
        return rounded(sum(known), 60, "1") if known else None

    rows = postgres_warehouse.query(query("Calls per library folder"))

    assert {folder_id: rest for folder_id, *rest in rows} == {
        folder_id: [
            gong["workspaces"][folder["workspaceid"]]["name"],
            folder["name"],
            folders[folder["parentfolderid"]]["name"] if folder["parentfolderid"] else None,
            len(in_folder[folder_id]),
            minutes(in_folder[folder_id]),
        ]
        for folder_id, folder in folders.items()
    }
    assert any(calls == 0 for *_, calls, _ in rows), "an empty folder is listed"
