"""Run the real MeltanoLabs target-snowflake against a fakesnow server. Tests only.

Run it with the Python of target-snowflake's own venv, exactly like the target's CLI
(`python launcher.py --config config.json < singer-messages`), with
FAKESNOW_URL=http://127.0.0.1:PORT naming the fakesnow server.
The target's settings, DDL (schemas, tables, columns, type changes), JSON-schema to
Snowflake type mapping, batching, casts and MERGE statements are its own. This file
changes only what the emulator cannot take:

1. Where it connects. The target has no host/port setting (it goes to
   <account>.snowflakecomputing.com), so host, port and protocol are added to its
   connect args, with a network timeout: without one the connector retries an
   HTTP 500 forever.
2. The stage plumbing fakesnow lacks: the user stage `@~`, `REMOVE`, `DROP FILE
   FORMAT`, and COPY/MERGE that read staged files with `$1:col::TYPE`.
   - PUT goes to a named stage, STAGE in a schema of its own, TARGET_SNOWFLAKE_EMULATOR,
     which also holds the work tables below.
   - Merge and copy take the target's own statement and swap only its source: the
     staged files are COPYed into a one-column VARIANT work table, and the target's
     select (its casts, its QUALIFY dedup by primary key, with the load order
     standing in for SEQ8()) reads that table. The target's MERGE then runs from a
     work table holding that select's rows (fakesnow cannot MERGE from the select
     itself); its COPY becomes an INSERT of them.
   - REMOVE and DROP FILE FORMAT are skipped: the emulator is thrown away after use.
3. Parallelism 1: fakesnow is not safe for concurrent loads.
4. No cloud probing: the connector's login otherwise asks the AWS, Azure and GCP
   metadata services which cloud it runs on (SNOWFLAKE_DISABLE_PLATFORM_DETECTION).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from target_snowflake.connector import SnowflakeConnector
from target_snowflake.sinks import SnowflakeSink
from target_snowflake.target import TargetSnowflake

EMULATOR_URL_VARIABLE = "FAKESNOW_URL"
NO_PLATFORM_DETECTION = {"SNOWFLAKE_DISABLE_PLATFORM_DETECTION": "true"}
NETWORK_TIMEOUT_SECONDS = 60
WORK_SCHEMA = "TARGET_SNOWFLAKE_EMULATOR"

# The shapes of target-snowflake's statements (connector._get_merge_from_stage_statement
# and _get_copy_statement). If the target changes them, the launcher stops with the
# statement rather than load something else.
STAGED_SOURCE = r"from '@~/target-snowflake/[^']+'"
MERGE_SHAPE = re.compile(
    rf"merge into (?P<table>.+?) d using \((?P<select>select .+?) {STAGED_SOURCE}"
    r"\(file_format => .+?\) (?P<dedup>QUALIFY .+?)\) s (?P<clauses>on .+)",
    re.DOTALL,
)
COPY_SHAPE = re.compile(
    rf"copy into (?P<table>.+?) (?P<columns>\(.+?\)) from \((?P<select>select .+?) "
    rf"{STAGED_SOURCE}\)file_format = .+",
    re.DOTALL,
)


def matched(shape: re.Pattern[str], statement: str) -> re.Match[str]:
    match = shape.fullmatch(statement)
    if match is None:
        msg = f"target-snowflake's statement no longer has the expected shape: {statement}"
        raise RuntimeError(msg)
    return match


def from_variant_table(select: str, table: str) -> str:
    """The target's `select $1:col::TYPE ...` reading JSON rows from `table` instead."""
    return f"{select.replace('$1:', 'v:')} from {table}"


class EmulatedSnowflakeConnector(SnowflakeConnector):
    """target-snowflake's connector, pointed at fakesnow, with emulator-safe staging."""

    def get_connect_args(self) -> dict[str, Any]:
        emulator = urlsplit(os.environ[EMULATOR_URL_VARIABLE])
        return {
            **super().get_connect_args(),
            "host": emulator.hostname,
            "port": emulator.port,
            "protocol": emulator.scheme,
            "network_timeout": NETWORK_TIMEOUT_SECONDS,
        }

    @property
    def work_schema(self) -> str:
        """The schema holding the stage and the work tables, in the configured database."""
        return f"{self.config['database'].upper()}.{WORK_SCHEMA}"

    @property
    def stage(self) -> str:
        return f"{self.work_schema}.STAGE"

    def put_batches_to_stage(self, sync_id: str, files: Sequence[str]) -> None:
        with self._connect() as conn, conn.begin():
            conn.execute(text(f"create schema if not exists {self.work_schema}"))
            conn.execute(text(f"create stage if not exists {self.stage}"))
            for file_uri in files:
                conn.execute(text(f"put '{file_uri}' @{self.stage}/{sync_id}/"))

    def merge_from_stage(
        self,
        full_table_name: Any,
        schema: dict,
        sync_id: str,
        file_format: str,
        key_properties: Sequence[str],
    ) -> int:
        statement, _ = self._get_merge_from_stage_statement(
            full_table_name=full_table_name,
            schema=schema,
            sync_id=sync_id,
            file_format=file_format,
            key_properties=key_properties,
        )
        merge = matched(MERGE_SHAPE, statement.text)
        merge_source = f"{self.work_schema}.MERGE_SOURCE_{uuid.uuid4().hex}"
        with self._connect() as conn, conn.begin():
            staged = self.load_staged_rows(conn, sync_id, file_format)
            source = from_variant_table(merge["select"], staged)
            dedup = merge["dedup"].replace("SEQ8()", "load_order")
            conn.execute(text(f"create table {merge_source} as {source} {dedup}"))
            # fakesnow's MERGE fails without a current schema; every name is qualified.
            conn.execute(text(f"use schema {self.work_schema}"))
            result = conn.execute(
                text(f"merge into {merge['table']} d using {merge_source} s {merge['clauses']}")
            )
            counts = result.fetchone()
            conn.execute(text(f"drop table {staged}"))
            conn.execute(text(f"drop table {merge_source}"))
        return sum(counts)

    def copy_from_stage(
        self,
        full_table_name: Any,
        schema: dict,
        sync_id: str,
        file_format: str,
    ) -> int:
        statement, _ = self._get_copy_statement(
            full_table_name=full_table_name,
            schema=schema,
            sync_id=sync_id,
            file_format=file_format,
        )
        copy = matched(COPY_SHAPE, statement.text)
        with self._connect() as conn, conn.begin():
            staged = self.load_staged_rows(conn, sync_id, file_format)
            source = from_variant_table(copy["select"], staged)
            result = conn.execute(text(f"insert into {copy['table']} {copy['columns']} {source}"))
            conn.execute(text(f"drop table {staged}"))
        return result.rowcount

    def load_staged_rows(self, conn: Any, sync_id: str, file_format: str) -> str:
        """COPY the staged JSON lines into a work table (load_order, v VARIANT); its name."""
        loaded = f"{self.work_schema}.STAGED_{uuid.uuid4().hex}"
        ordered = f"{loaded}_ORDERED"
        conn.execute(text(f"create table {loaded} (v VARIANT)"))
        conn.execute(
            text(
                f"copy into {loaded} from @{self.stage}/{sync_id}/ "
                f"file_format = (format_name='{file_format}')"
            )
        )
        conn.execute(
            text(
                f"create table {ordered} as "
                f"select row_number() over () as load_order, v from {loaded}"
            )
        )
        conn.execute(text(f"drop table {loaded}"))
        return ordered

    def remove_staged_files(self, sync_id: str) -> None:
        """fakesnow has no REMOVE; the staged files go with the emulator."""

    def drop_file_format(self, file_format: str) -> None:
        """fakesnow has no DROP FILE FORMAT; the format goes with the emulator."""


class EmulatedSnowflakeSink(SnowflakeSink):
    connector_class = EmulatedSnowflakeConnector


class EmulatedTargetSnowflake(TargetSnowflake):
    """target-snowflake, one sink drained at a time."""

    default_sink_class = EmulatedSnowflakeSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1


if __name__ == "__main__":
    os.environ.update(NO_PLATFORM_DETECTION)
    EmulatedTargetSnowflake.cli()
