"""How many SQL statements (on PostgreSQL: round trips) a restore costs, counted at the
database drivers while the real command runs: every statement is a round trip to a
PostgreSQL server, so a duplicate read is paid on every restore. The counts are pinned, so
a change that adds a statement shows up here and has to say why (docs/storage.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import IO

import psycopg
import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

# A restore of one text answer from one job, through the CLI (`questa-vault restore`): open
# the vault, look the job up, unlock, read the job in one snapshot (its row, the log head and
# triggers, its grants with their holders' keys, its log entries, its blobs), then the
# release: check the head and triggers again in the write transaction and add the entry.
RESTORE_STATEMENTS = {"sqlite": 25, "postgresql": 19}


class _Counter:
    """Statements sent through every connection the drivers open while it is installed."""

    def __init__(self, tmp_path: Path) -> None:
        self.sqlite: list[str] = []
        self._traces: list[tuple[Path, IO[str]]] = []
        self._tmp = tmp_path

    def sqlite_connect(self, *args: object, **kwargs: object) -> sqlite3.Connection:
        conn = _sqlite_connect(*args, **kwargs)  # type: ignore[arg-type]

        def note(sql: str) -> None:
            if not sql.startswith("--"):  # SQLite's note of a table-valued PRAGMA it runs
                self.sqlite.append(sql)

        conn.set_trace_callback(note)
        return conn

    def psycopg_connect(self, *args: object, **kwargs: object) -> psycopg.Connection:
        conn = _psycopg_connect(*args, **kwargs)  # type: ignore[arg-type]
        trace = self._tmp / f"pg-trace-{len(self._traces)}.txt"
        file = trace.open("w")  # libpq's protocol trace; open while the connection lives
        self._traces.append((trace, file))
        conn.pgconn.trace(file.fileno())
        return conn

    def postgres_round_trips(self) -> int:
        """Messages the client ended a request with: a simple ``Query`` or a ``Sync``
        (psycopg sends Parse/Bind/Describe/Execute then one Sync per statement)."""
        count = 0
        for trace, file in self._traces:
            file.close()
            for line in trace.read_text().splitlines():
                fields = line.split("\t")
                if fields and fields[0] not in ("F", "B"):  # a timestamp comes first
                    fields = fields[1:]
                if len(fields) > 2 and fields[0] == "F" and fields[2] in ("Query", "Sync"):
                    count += 1
        return count


_sqlite_connect = sqlite3.connect
_psycopg_connect = psycopg.connect


@pytest.fixture
def counter(tmp_path: Path) -> _Counter:
    return _Counter(tmp_path)


def test_a_restore_sends_a_pinned_number_of_statements(
    cli_vault: Path | str, tmp_path: Path, counter: _Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_vault(cli_vault) as kr:  # type: ignore[arg-type]
        kr.store_job(sample_job("job-1"), actor="alice")
    answer = tmp_path / "answer.txt"
    answer.write_text("Dear [PERSON_NAME_1], noted.\n", encoding="utf-8")
    monkeypatch.setenv("QUESTA_VAULT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setattr(sqlite3, "connect", counter.sqlite_connect)
    monkeypatch.setattr(psycopg, "connect", counter.psycopg_connect)
    result = invoke(["restore", str(answer), "-j", "job-1", "-o", str(tmp_path / "out.txt")])
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") != answer.read_text()
    if isinstance(cli_vault, Path):
        sent = len(counter.sqlite)
        backend = "sqlite"
    else:
        sent = counter.postgres_round_trips()
        backend = "postgresql"
        assert not counter.sqlite, counter.sqlite  # no SQLite work behind a PostgreSQL vault
    assert sent == RESTORE_STATEMENTS[backend], "\n".join(counter.sqlite) or sent
