"""A real PostgreSQL server for the metadata tests: Debian's ``postgresql``
package, a throwaway cluster made by ``initdb`` in a temp dir, listening on
127.0.0.1 and a free port, run as an unprivileged user (``postgres``, else
``nobody``) when the tests run as root, and stopped afterwards.

Test modules use it with ``postgres_server = conftest_postgres.postgres_server``.
A server that cannot start fails the tests; it never skips them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "snd"
PASSWORD = "pw-Zr53-never-shown"
_db_counter = itertools.count(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bin_dir() -> Path:
    """Debian's server binaries (/usr/lib/postgresql/<version>/bin) are not on PATH."""
    env = os.environ.get("SND_PG_BINDIR")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("initdb")
    if exe:
        return Path(exe).parent
    pytest.fail("initdb not found: install Debian's postgresql package (scripts/ensure-deps.sh does)")


@dataclass
class PostgresServer:
    """A running throwaway cluster; ``stop()`` / ``start()`` restart it on the same port."""

    base: Path
    port: int = field(default_factory=free_port)
    bin: Path = field(default_factory=bin_dir)
    run_as: pwd.struct_passwd | None = None

    @property
    def data(self) -> Path:
        return self.base / "data"

    def uri(self, database: str = "postgres", password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{port or self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.run_as is not None:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.base,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "PGPASSWORD": PASSWORD},
            check=check,
            **kwargs,
        )

    def init(self) -> None:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            else:
                pytest.fail("no unprivileged user (postgres or nobody) to run PostgreSQL as")
            os.chown(self.base, self.run_as.pw_uid, self.run_as.pw_gid)
        pwfile = self.base / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as is not None:
            os.chown(pwfile, self.run_as.pw_uid, self.run_as.pw_gid)
        out = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            check=False,
        )
        if out.returncode != 0:
            pytest.fail(f"initdb failed: {out.stdout}{out.stderr}")

    def start(self) -> None:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=200"
        )
        log = str(self.base / "log")
        out = self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-o", opts, "start", check=False)
        if out.returncode != 0:
            pytest.fail(f"PostgreSQL did not start: {out.stdout}{out.stderr}\n{self.log_tail()}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def psql(self, sql: str, database: str = "postgres") -> str:
        address = ("-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database)
        out = self._run("psql", *address, "-Atc", sql, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {out.stderr}")
        return out.stdout.strip()

    def fresh_database(self) -> str:
        """Creates an empty database and returns its URI."""
        name = f"t{next(_db_counter)}_{os.getpid()}"
        self.psql(f"CREATE DATABASE {name}")
        return self.uri(name)

    def log_tail(self) -> str:
        try:
            return (self.base / "log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """One server per test module. Its folder is directly under /tmp, which the
    unprivileged server user can reach (pytest's own temp folders are 0700)."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="snd-pg-")))
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
