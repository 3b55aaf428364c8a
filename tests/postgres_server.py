"""A real PostgreSQL server for the ingestion tests, started by the tests themselves.

`pgserver` (a PyPI wheel, pinned in requirements-dev.txt) bundles PostgreSQL 16's binaries: `make test` gets the
server with the other packages, with no system package and no hand step. The server listens on a Unix socket in
its data folder only (no TCP port to collide with); as root it runs as the `pgserver` system user, which the
package creates. One server serves a whole test run: the pytest-xdist workers attach to the same data folder
(pgserver counts the processes that use it and stops the server when the last one exits).

Authentication is real: the superuser `postgres` connects without a password (the fixtures' own set-up), every
other role with SCRAM-SHA-256, so a wrong password fails as it would on RDS. The job connects as `ingest`, a
role that may only read.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INGEST_USER = "ingest"
INGEST_PASSWORD = "ingest-password-1"  # a test fixture's password, for a server that exists only during the run
_HBA = """# written by tests/postgres_server.py
local   all   postgres   trust
local   all   all        scram-sha-256
"""


@dataclass(frozen=True)
class Postgres:
    socket_dir: str  # libpq's host for a Unix socket
    port: int
    database: str = "postgres"

    def admin(self, **kwargs: Any) -> Any:
        """A superuser connection (autocommit): creates tables, rows, roles; terminates backends."""
        import psycopg

        return psycopg.connect(
            host=self.socket_dir, port=self.port, dbname=self.database, user="postgres", autocommit=True, **kwargs
        )


def start_postgres(folder: Path, lock: Path) -> Postgres:
    """Start (or join) the server whose data folder is `folder`, with the ingest role and password authentication
    (set up once, under `lock`, by whichever process comes first)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset (pgserver's lock file falls back to /tmp)
        import pgserver

        with _locked(lock):
            if not (folder / "PG_VERSION").is_file():
                _initdb(pgserver, folder)
            server = pgserver.get_server(folder, cleanup_mode="delete")
    info = server.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        raise RuntimeError(f"pgserver started PostgreSQL in {folder} without a Unix socket: {info}")
    postgres = Postgres(str(info.socket_dir), info.port)
    with _locked(lock):
        hba = folder / "pg_hba.conf"
        if hba.read_text() != _HBA:
            with postgres.admin() as admin:
                admin.execute(f"CREATE ROLE {INGEST_USER} LOGIN PASSWORD '{INGEST_PASSWORD}'")
                admin.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {INGEST_USER}")
                hba.write_text(_HBA)
                admin.execute("SELECT pg_reload_conf()")
    return postgres


def _initdb(pgserver: Any, folder: Path) -> None:
    """pgserver's own initdb, without fsync (a throw-away cluster: ~2x faster to create and to write), with the
    authentication above from the start and durability settings a test server does not need."""
    user = None
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: pgserver's system user, as get_server does it
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists("pgserver")
        ensure_prefix_permissions(folder)
        # the binaries too: a checkout in a 0700 folder (mktemp -d) would hide them from that user
        ensure_prefix_permissions(Path(pgserver.__file__).resolve().parent / "pginstall" / "bin" / "initdb")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        user = "pgserver"
    arguments = ["--auth-local=trust", "--encoding=utf8", "--no-sync", "--no-instructions", "-U", "postgres"]
    pgserver.initdb(arguments, pgdata=folder, user=user)
    with (folder / "postgresql.conf").open("a") as conf:
        conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
