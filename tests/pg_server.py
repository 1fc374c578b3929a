"""A throwaway PostgreSQL server for the tests: the machine's own ``initdb`` and ``pg_ctl`` in a
temporary folder, listening on a Unix socket only, stopped and removed at the end.

PostgreSQL refuses to run as root, and the tests (and CI) run as root: the server then runs as
an unprivileged OS user (``postgres`` when the OS packages made one, else ``nobody``) through
``runuser``, in a temporary folder that user owns. The test process itself connects through the
socket as the cluster's superuser (``trust`` authentication, socket only, so nothing outside
this machine's root and that user can reach it).

One server per test session; every test gets a fresh database (``fresh_database``), which is
cheap (a copy of the empty template) compared with starting a server.

Where no PostgreSQL is installed, ``PostgresServer.find_binaries`` returns None and the fixtures
skip with a loud reason; under ``CI=true`` they fail instead, so CI never passes by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "vault_admin"
PASSWORD_ROLE = "vault_pw"  # the one role that authenticates with a password
_UNPRIVILEGED = ("postgres", "nobody")
NOT_INSTALLED = (
    "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH): "
    "the PostgreSQL backend is NOT tested here; install the postgresql package (.ci/run does)"
)


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest /usr/lib/postgresql/N/bin,
    else the one on PATH; None when PostgreSQL is not installed."""

    def version(folder: str) -> int:
        try:
            return int(Path(folder).parent.name)
        except ValueError:
            return 0

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def must_have_postgres() -> bool:
    """True under CI: a missing PostgreSQL is then a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class PostgresServer:
    """A running throwaway cluster. ``start()``, ``url(dbname)``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="questa-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self._run_as: str | None = None
        self._counter = itertools.count(1)

    # ------------------------------------------------------------- lifetime

    def start(self) -> PostgresServer:
        reap_orphans(self.bindir)
        (self.root / "owner.pid").write_text(str(os.getpid()))
        if os.geteuid() == 0:
            self._run_as = next(
                (u for u in _UNPRIVILEGED if _has_user(u)), None
            )  # nobody always exists
            if self._run_as is None:
                raise RuntimeError("no unprivileged OS user to run PostgreSQL as")
            entry = pwd.getpwnam(self._run_as)
            os.chmod(self.root, 0o755)  # traversable by that user (mkdtemp makes it 0700)
            self.socket_dir.mkdir(mode=0o700)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
            self.log.touch(mode=0o600)
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
            self.data.mkdir(mode=0o700)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        else:
            self.socket_dir.mkdir(mode=0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        # One role that must give a password (scram), for the tests of libpq's password file;
        # every other role is trusted on the socket.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + hba.read_text())
        # Unix socket only (listen_addresses=''); durability switched off: a test server.
        options = (
            f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")  # fmt: skip
        return self

    def cpu_seconds(self) -> float | None:
        """CPU time the server has used so far (the postmaster, and every backend and worker
        it has reaped), from /proc; None where that cannot be read."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return sum(int(v) for v in fields[11:15]) / ticks  # utime, stime, cutime, cstime

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=self.root, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{log}"
            )

    # ------------------------------------------------------------- databases

    def url(self, dbname: str, *, user: str = SUPERUSER) -> str:
        """A libpq URL for ``dbname`` over the socket (no password: trust on the socket)."""
        return f"postgresql:///{dbname}?host={self.socket_dir}&user={user}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser in the ``postgres`` database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def fresh_database(self, prefix: str = "vault", *, owner: str = SUPERUSER) -> str:
        """A new empty database (a file copy of ``template0``, ~0.1 s); its URL as ``owner``."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        self.admin(
            f'CREATE DATABASE "{name}" OWNER "{owner}" TEMPLATE template0 STRATEGY FILE_COPY'
        )
        return self.url(name, user=owner)

    def ensure_role(self, name: str) -> None:
        """A LOGIN role (cluster-wide, so made once per server)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(f'CREATE ROLE "{name}" LOGIN')


def reap_orphans(bindir: Path) -> None:
    """Stop and remove the servers of earlier test sessions that were killed before their
    teardown ran (their owner process is gone), so they never pile up."""
    for root in glob.glob(os.path.join(tempfile.gettempdir(), "questa-pg-*")):
        try:
            owner = int(Path(root, "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        data = Path(root) / "data"
        if (data / "postmaster.pid").exists():
            command = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            if os.geteuid() == 0:
                command = ["runuser", "-u", data.owner(), "--", *command]
            subprocess.run(command, capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
