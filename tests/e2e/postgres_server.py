"""A throwaway PostgreSQL server for the end-to-end tests: real, local, gone afterwards.

The server binaries come from the OS (Debian's `postgresql`, installed with apt-get
when missing). The cluster lives in a temp dir, listens on a free 127.0.0.1 port with
fsync off (nothing in it outlives the tests) and is stopped and deleted at the end.
`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres`
user, which owns the temp dir.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

DEBIAN_SERVER_DIRS = Path("/usr/lib/postgresql")
SERVER_OWNER = "postgres"
APT_TIMEOUT_SECONDS = 600
COMMAND_TIMEOUT_SECONDS = 120


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be installed or started; the message says why, in one line."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")


@contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free 127.0.0.1 port, stopped and deleted on exit."""
    bin_dir = server_bin_dir() or install_server()
    as_owner = owner_prefix()
    base = Path(tempfile.mkdtemp(prefix="tap-gong-postgres-"))
    data, log = base / "data", base / "server.log"
    try:
        if as_owner:
            shutil.chown(base, user=SERVER_OWNER)
        initdb = [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", SERVER_OWNER]
        run([*initdb, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        port = free_port()
        server_options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
        run([*pg_ctl, "-l", str(log), "-o", server_options, "start"], "pg_ctl start", log)
        try:
            yield PostgresServer(host="127.0.0.1", port=port, user=SERVER_OWNER)
        finally:
            run([*pg_ctl, "-m", "immediate", "stop"], "pg_ctl stop", log)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def server_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server installed, or one on PATH."""
    versions = sorted(DEBIAN_SERVER_DIRS.glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if versions:
        return versions[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def install_server() -> Path:
    """Install Debian's PostgreSQL server (root and apt-get needed)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found and cannot be installed "
            "here: install them (Debian: `apt-get install postgresql`) and rerun."
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=environment,
            timeout=APT_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            raise PostgresUnavailable(
                f"`{' '.join(command)}` failed (exit {completed.returncode}): "
                + last_line(completed.stderr or completed.stdout)
            )
    if (bin_dir := server_bin_dir()) is None:
        raise PostgresUnavailable("apt-get installed postgresql, but no initdb was found.")
    return bin_dir


def owner_prefix() -> list[str]:
    """As root, run the server commands as the `postgres` user (they refuse root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_OWNER)
    except KeyError:
        raise PostgresUnavailable(
            f"Running as root, but there is no `{SERVER_OWNER}` user to run the server as "
            "(Debian's postgresql package creates it)."
        ) from None
    return ["runuser", "-u", SERVER_OWNER, "--"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], what: str, log: Path | None = None) -> None:
    """Run a server command; on failure, say which and why in one message."""
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PostgresUnavailable(f"{what} did not finish in {COMMAND_TIMEOUT_SECONDS} s") from None
    if completed.returncode != 0:
        details = completed.stderr or completed.stdout
        if log is not None and log.exists():
            details += log.read_text(errors="replace")
        raise PostgresUnavailable(
            f"{what} failed (exit {completed.returncode}): {last_line(details)}"
        )


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
