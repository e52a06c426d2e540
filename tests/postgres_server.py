"""A private PostgreSQL for tests and benchmarks: Debian's binaries, a temp dir, loopback.

Theory of operation: :func:`start_server` runs ``initdb`` into a fresh temporary
directory and starts ``postgres`` on a free 127.0.0.1 port, with its unix socket in that
directory too (nothing under /var/run, nothing shared with a system cluster). initdb
refuses to run as root, so when we are root the binaries run as the ``postgres`` OS user
(``runuser``), which Debian's package creates. The superuser has a random password and
loopback connections must give it (scram), so a URL with a password is what the store
sees, as in production. :meth:`PostgresServer.stop` stops the server and removes the
directory.

Tests get one server per pytest session (``postgres_server`` in tests/conftest.py) and a
fresh database per test, cloned from a template database that is migrated once
(``CREATE DATABASE ... TEMPLATE``: a file copy, a few milliseconds), so every test starts
from an empty, current schema and cannot see another's rows.

``SWITCHBOARD_TEST_POSTGRES_URL=postgresql://user:pass@host:port/db`` uses an existing
server instead (the user must be allowed to CREATE DATABASE). When neither that nor the
binaries are there, :class:`PostgresUnavailable` says how to install them: PostgreSQL
tests fail rather than skip.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

T = TypeVar("T")

__all__ = [
    "ENV_URL",
    "PostgresServer",
    "PostgresUnavailable",
    "find_binaries",
    "run_in_thread",
    "start_server",
]

ENV_URL = "SWITCHBOARD_TEST_POSTGRES_URL"
INSTALL_HINT = (
    "PostgreSQL's server binaries are needed for the PostgreSQL store tests: install "
    "Debian's package (`sudo apt-get install -y postgresql`; ./run-tests and .ci/run do) "
    f"or point {ENV_URL} at a server where the user may CREATE DATABASE."
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL to test against (no binaries, or initdb/postgres would not start)."""


def find_binaries() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl.

    Raises:
        PostgresUnavailable: none is installed.
    """
    found = []
    for candidate in glob.glob("/usr/lib/postgresql/*/bin"):
        bindir = Path(candidate)
        major = bindir.parent.name
        if major.isdigit() and (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            found.append((int(major), bindir))
    if not found:
        raise PostgresUnavailable(INSTALL_HINT)
    return max(found)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database)))


@dataclass
class PostgresServer:
    """A running server: ``url`` reaches its maintenance database as a superuser.

    ``owned`` is false for a server named by SWITCHBOARD_TEST_POSTGRES_URL: we never stop
    somebody else's server, only drop the databases we created on it.
    """

    url: str
    owned: bool
    datadir: Path | None = None
    bindir: Path | None = None
    run_as: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    #: the postgres command-line options it was started with (to start it again)
    options: list[str] = field(default_factory=list)
    _counter: int = 0

    def database_url(self, name: str) -> str:
        return _with_database(self.url, name)

    def new_database_name(self, prefix: str = "sb_test") -> str:
        self._counter += 1
        return f"{prefix}_{os.getpid()}_{self._counter}_{secrets.token_hex(3)}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """``CREATE DATABASE name [TEMPLATE template]``; returns its URL.

        Synchronous (asyncpg in a thread of its own), so that sync fixtures, async tests
        and benchmarks can all call it whatever event loop is running.
        """
        clause = f' TEMPLATE "{template}"' if template else ""
        self.admin(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    def admin(self, sql: str) -> None:
        """Run one statement on the maintenance database (CREATE / DROP DATABASE...)."""

        async def run() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        run_in_thread(run)

    def shut_down(self) -> None:
        """Stop an owned server as an operator would (``pg_ctl stop -m fast``: clients
        are disconnected), keeping its files for :meth:`start_again`."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start_again(self) -> None:
        """Start a server :meth:`shut_down` stopped, on the same port."""
        self._pg_ctl("-l", str(self._root() / "log"), "-o", " ".join(self.options), "-w", "start")

    def _root(self) -> Path:
        if not self.owned or self.datadir is None:
            raise PostgresUnavailable("only a server of our own can be stopped and started")
        return self.datadir

    def _pg_ctl(self, *args: str) -> None:
        root = self._root()
        assert self.bindir is not None
        # stdout to a file: a started postgres keeps it open, and a pipe would never end.
        with open(root / "pg_ctl.out", "ab") as out:
            result = subprocess.run(
                [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(root / "data"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=90,
            )
        if result.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl {' '.join(args)} failed (see {root}/log)")

    def stop(self) -> None:
        """Stop an owned server and delete its files (an external one is left running)."""
        if not self.owned or self.datadir is None or self.bindir is None:
            return
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.datadir = None


def run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(factory())`` in a new thread: usable inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{what} failed: {result.stderr.strip() or result.stdout}")


def start_server(*, durable: bool = False) -> PostgresServer:
    """A PostgreSQL server for this process: SWITCHBOARD_TEST_POSTGRES_URL's, or a new one.

    Args:
        durable: keep PostgreSQL's crash-safety settings (fsync, full page writes), as a
            benchmark must; tests leave them off, since a test database never outlives
            the run and fsync is most of the time a small write takes.

    Raises:
        PostgresUnavailable: no binaries, or the server would not start (the message
            carries the server's log tail).
    """
    external = os.environ.get(ENV_URL)
    if external:
        return PostgresServer(url=external, owned=False)
    bindir = find_binaries()
    run_as: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root needs runuser to start PostgreSQL")
        run_as = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    try:
        if run_as:
            shutil.chown(root, user="postgres", group="postgres")
        password = secrets.token_urlsafe(18)
        pwfile = root / "pw"
        pwfile.write_text(password + "\n", encoding="utf-8")
        if run_as:
            shutil.chown(pwfile, user="postgres")
        pwfile.chmod(0o600)
        data = root / "data"
        _run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        pwfile.unlink()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-k {root}",
            "-c max_connections=200",
            "-c shared_buffers=64MB",
        ]
        if not durable:
            options += ["-c fsync=off", "-c full_page_writes=off", "-c synchronous_commit=off"]
        last_error = ""
        for _attempt in range(5):  # another process may take the free port before us
            port = _free_port()
            result = subprocess.run(
                [
                    *run_as,
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "log"),
                    "-o",
                    " ".join([f"-p {port}", *options]),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=90,
            )
            if result.returncode == 0:
                url = f"postgresql://postgres:{quote(password, safe='')}@127.0.0.1:{port}/postgres"
                return PostgresServer(
                    url=url,
                    owned=True,
                    datadir=root,
                    bindir=bindir,
                    run_as=run_as,
                    options=[f"-p {port}", *options],
                )
            log = root / "log"
            last_error = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            time.sleep(0.2)
        raise PostgresUnavailable(f"postgres would not start: {last_error}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
