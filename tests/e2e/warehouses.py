"""The warehouses the pipelines load into, read back as plain Python rows.

Each warehouse says which Meltano loader and job schedule feed it, the environment
that points that loader at it, and returns a table's rows with lower-case column
names and plain values (UTC-naive datetimes, ISO dates, floats for decimals, parsed
JSON), so one set of checks serves every warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import duckdb

from tests.e2e.postgres_server import PostgresServer

SCHEMA = "gong"  # default_target_schema of every loader in meltano.yml


class Warehouse(Protocol):
    name: str
    loader: str
    schedule: str
    # target-duckdb COPYs each batch from CSV, where an empty string reads back as NULL.
    empty_text_lands_as_null: bool

    def loader_environment(self) -> dict[str, str]: ...

    def rows(self, table: str) -> list[dict[str, Any]]: ...

    def column_types(self, table: str) -> dict[str, str]: ...


def plain(value: Any) -> Any:
    """A column value as the checks compare it: numbers, strings, UTC-naive instants."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class PostgresWarehouse:
    server: PostgresServer
    database: str
    schema: str = SCHEMA
    name: str = "postgres"
    loader: str = "target-postgres"
    schedule: str = "gong-to-postgres-hourly"
    empty_text_lands_as_null: bool = False

    def loader_environment(self) -> dict[str, str]:
        return {
            "TARGET_POSTGRES_HOST": self.server.host,
            "TARGET_POSTGRES_PORT": str(self.server.port),
            "TARGET_POSTGRES_USER": self.server.user,
            # The server trusts local clients, but the target insists on a password.
            "TARGET_POSTGRES_PASSWORD": "unused",
            "TARGET_POSTGRES_DATABASE": self.database,
        }

    def query(self, sql: str) -> list[tuple]:
        with self.server.connect(self.database) as connection:
            return connection.execute(sql).fetchall()

    def execute(self, sql: str, parameters: tuple[str, ...] = ()) -> None:
        with self.server.connect(self.database) as connection:
            connection.execute(sql, parameters)

    def column_types(self, table: str) -> dict[str, str]:
        """Column name (lower case) -> PostgreSQL type (`_jsonb` is jsonb[])."""
        rows = self.query(
            "SELECT column_name, udt_name FROM information_schema.columns "
            f"WHERE table_schema = '{self.schema}' AND table_name = '{table}'"
        )
        return {name.lower(): kind for name, kind in rows}

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.server.connect(self.database) as connection:
            cursor = connection.execute(f'SELECT * FROM "{self.schema}"."{table}"')
            names = [column.name.lower() for column in cursor.description or []]
            return [
                {name: plain(value) for name, value in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]


@dataclass(frozen=True)
class DuckDBWarehouse:
    path: Path
    name: str = "duckdb"
    loader: str = "target-duckdb"
    schedule: str = "gong-to-duckdb-daily"
    empty_text_lands_as_null: bool = True

    def loader_environment(self) -> dict[str, str]:
        return {"TARGET_DUCKDB_PATH": str(self.path)}

    def column_types(self, table: str) -> dict[str, str]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            relation = connection.table(f"{SCHEMA}.{table}")
            return {
                name.lower(): str(kind)
                for name, kind in zip(relation.columns, relation.types, strict=True)
            }

    def rows(self, table: str) -> list[dict[str, Any]]:
        # Closed before the next run: the target needs the file's write lock.
        with duckdb.connect(str(self.path), read_only=True) as connection:
            relation = connection.table(f"{SCHEMA}.{table}")
            names = [name.lower() for name in relation.columns]
            json_columns = {
                name
                for name, kind in zip(names, relation.types, strict=True)
                if str(kind) == "JSON"
            }
            return [
                {
                    name: json.loads(value) if name in json_columns and value else plain(value)
                    for name, value in zip(names, row, strict=True)
                }
                for row in relation.fetchall()
            ]
