"""A Snowflake emulator for the end-to-end tests: fakesnow in server mode, fed by Meltano.

The test-only overlay below adds to the temp copy of the repo's Meltano project:
- `fakesnow`, a utility (its own venv: fakesnow 0.12.1 needs duckdb 2.0, the test
  environment pins duckdb 1.2.2 for target-duckdb);
- `target-snowflake-emulated`, which inherits target-snowflake (its settings, its
  venv) and runs it through launcher.py, pointed at the fakesnow server;
- a job and a daily schedule for it, as meltano.yml has for the real target.
The repo's meltano.yml is not changed: only the temp copy includes the overlay.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import snowflake.connector
import yaml

from tests.e2e.meltano_project import INSTALL_TIMEOUT_SECONDS, MeltanoCommandFailed, MeltanoProject
from tests.e2e.warehouses import SCHEMA, plain

LAUNCHER = Path(__file__).with_name("launcher.py")
OVERLAY_FILE = "snowflake-emulator.meltano.yml"
LOADER = "target-snowflake-emulated"
OVERLAY = """\
plugins:
  utilities:
    - name: fakesnow
      namespace: fakesnow
      # fakesnow 0.12.1 imports snowflake.connector.converter, which 5.x removed
      # (and a 5.x client cannot log in to fakesnow's server).
      pip_url: fakesnow[server]==0.12.1 snowflake-connector-python>=4.8,<5
      executable: fakesnow
  loaders:
    - name: {loader}
      inherit_from: target-snowflake
      executable: {wrapper}
jobs:
  - name: gong-to-snowflake-emulated
    tasks:
      - tap-gong {loader}
schedules:
  - name: gong-to-snowflake-emulated-daily
    interval: "@daily"
    job: gong-to-snowflake-emulated
"""
# Meltano runs the loader's executable with VIRTUAL_ENV set to target-snowflake's venv.
WRAPPER = """\
#!/bin/sh
exec "$VIRTUAL_ENV/bin/python" "{launcher}" "$@"
"""
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
QUERY_TIMEOUT_SECONDS = 60
LOG_TAIL_LINES = 20


def loader_variable(setting: str) -> str:
    """The environment variable Meltano reads a setting of the emulated loader from."""
    return f"{LOADER.upper().replace('-', '_')}_{setting.upper()}"


class EmulatorUnavailable(RuntimeError):
    """fakesnow could not be installed or started; the message says why."""


def add_emulated_snowflake(project: MeltanoProject) -> Path:
    """Include the overlay in the project, install fakesnow; its `fakesnow` executable."""
    wrapper = project.root / LOADER
    wrapper.write_text(WRAPPER.format(launcher=LAUNCHER))
    wrapper.chmod(0o755)
    (project.root / OVERLAY_FILE).write_text(OVERLAY.format(loader=LOADER, wrapper=wrapper))
    project_file = project.root / "meltano.yml"
    definition = yaml.safe_load(project_file.read_text())
    definition.setdefault("include_paths", []).append(f"./{OVERLAY_FILE}")
    project_file.write_text(yaml.safe_dump(definition, sort_keys=False))
    try:
        project.meltano(
            *("install", "--plugin-type", "utility", "fakesnow"),
            label="meltano install fakesnow",
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except MeltanoCommandFailed as failure:
        raise EmulatorUnavailable(str(failure)) from None
    return project.root / ".meltano" / "utilities" / "fakesnow" / "venv" / "bin" / "fakesnow"


@dataclass(frozen=True)
class FakesnowServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, database: str) -> snowflake.connector.SnowflakeConnection:
        return snowflake.connector.connect(
            account="fakesnow",
            user="tap_gong_tests",
            password="unused",
            host=self.host,
            port=self.port,
            protocol="http",
            database=database,
            # Without it the connector retries an HTTP 500 forever.
            network_timeout=QUERY_TIMEOUT_SECONDS,
        )


@contextmanager
def running_fakesnow(executable: Path) -> Iterator[FakesnowServer]:
    """fakesnow's server on a free 127.0.0.1 port, in-memory, stopped on exit."""
    # fakesnow keeps staged files in a temp dir it never deletes: give it one we do.
    with tempfile.TemporaryDirectory(prefix="tap-gong-fakesnow-") as workdir:
        port = free_port()
        log = Path(workdir) / "fakesnow.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [str(executable), "--server", "--host", "127.0.0.1", "--port", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env={**os.environ, "TMPDIR": workdir},
            )
        try:
            wait_until_answering(process, port, log)
            yield FakesnowServer("127.0.0.1", port)
        finally:
            # Its command line stops cleanly on SIGINT only.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_answering(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not answers(port):
        if process.poll() is not None:
            raise EmulatorUnavailable(f"fakesnow exited {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise EmulatorUnavailable(
                f"fakesnow did not answer on port {port} in {START_TIMEOUT_SECONDS} s:\n"
                + tail(log)
            )
        time.sleep(0.2)


def answers(port: int) -> bool:
    """Whether an HTTP server answers on the port (any status, 404 included)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


@dataclass(frozen=True)
class SnowflakeEmulatorWarehouse:
    """A database on the fakesnow server, loaded by the real target-snowflake."""

    server: FakesnowServer
    database: str
    name: str = "snowflake-emulator"
    loader: str = LOADER
    schedule: str = "gong-to-snowflake-emulated-daily"
    empty_text_lands_as_null: bool = False

    def loader_environment(self) -> dict[str, str]:
        return {
            "FAKESNOW_URL": self.server.url,  # read by launcher.py
            loader_variable("account"): "fakesnow",
            loader_variable("user"): "tap_gong_tests",
            loader_variable("password"): "unused",  # fakesnow takes any
            loader_variable("database"): self.database,
        }

    def query(self, sql: str) -> list[tuple]:
        with self.server.connect(self.database) as connection:
            cursor = connection.cursor()
            cursor.execute(sql)  # returns the cursor itself, or None for an empty statement
            return cursor.fetchall()

    def column_types(self, table: str) -> dict[str, str]:
        """Column name -> Snowflake data type (DESCRIBE TABLE fails on fakesnow)."""
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{SCHEMA.upper()}' AND table_name = '{table.upper()}'"
        )
        return {name.lower(): kind for name, kind in rows}

    def rows(self, table: str) -> list[dict[str, Any]]:
        types = self.column_types(table)
        # Through fakesnow's server a NULL timestamp reads back as 1970-01-01: ask SQL.
        instants = [name for name, kind in types.items() if kind.startswith("TIMESTAMP")]
        columns = [*types, *(f"{name} IS NULL" for name in instants)]
        rows = []
        for record in self.query(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{table}"):
            values = dict(zip(types, record[: len(types)], strict=True))
            is_null = dict(zip(instants, record[len(types) :], strict=True))
            rows.append(
                {
                    name: None if is_null.get(name) else from_snowflake(value, types[name])
                    for name, value in values.items()
                }
            )
        return rows


def from_snowflake(value: Any, data_type: str) -> Any:
    """A value as the shared checks compare it; a VARIANT arrives as JSON text."""
    if data_type == "VARIANT" and isinstance(value, str):
        return json.loads(value)
    return plain(value)
