"""``db.log``: the access log's rows (append-only; the custodian computes the hash chain)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.errors import IntegrityError
from vault.store._base import Queries
from vault.store._rows import LogRow, checked, counts_column, facts_column, flat_json

# ``user`` is quoted: PostgreSQL reserves the word (SQLite accepts the quotes too).
_COLUMNS = 'seq, time, "user", action, job_id, counts, prev_hash, entry_hash, subject, facts'
# The newest two entries, newest first (no parameter: see ``head_guarded``).
_HEAD_SQL = f"SELECT {_COLUMNS} FROM access_log ORDER BY seq DESC LIMIT 2"
_HEAD = "access_log.head"
# For ``db.memo``: what was read from the entries that name a subject (``rows(subject=...)``).
SUBJECTS = "access_log.subjects"


class AccessLog(Queries):
    """The access log's rows, by sequence number. Rows are only ever added: the database's
    triggers (and on PostgreSQL its privileges) refuse an UPDATE or DELETE."""

    def last(self) -> LogRow | None:
        """The head of the log; None when it is empty. In a write transaction it is read
        once, then kept as this transaction's appends move it (the check before a release
        reads the head afresh: ``head_guarded``)."""
        return self.db.memo(_HEAD, ("access_log",), self._read_last)

    def _read_last(self) -> LogRow | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM access_log ORDER BY seq DESC LIMIT 1")
        return _log(rows[0]) if rows else None

    def head(self) -> list[LogRow]:
        """The newest two entries, newest first (what checking the head needs, in one
        statement); fewer when the log is shorter."""
        return [_log(r) for r in self._query(_HEAD_SQL)]

    def head_guarded(self) -> tuple[list[LogRow], bool]:
        """``head()`` and ``db.log_guarded()`` (the log's triggers in place as defined), what
        the check before every release reads; one round trip on PostgreSQL
        (``Database.log_head_guarded``)."""
        rows, guarded = self.db.log_head_guarded(_HEAD_SQL)
        return [_log(r) for r in rows], guarded

    def append(self, row: LogRow) -> None:
        """Insert the entry and read back, in the same statement, what the table took:
        ``IntegrityError`` unless it is exactly the entry (a trigger or rule that swallows or
        changes a log entry would otherwise let a release go on unlogged)."""
        values = (
            row.seq,
            row.time,
            row.user,
            row.action,
            row.job_id,
            flat_json(row.counts, "counts"),
            row.prev_hash,
            row.entry_hash,
            row.subject,
            None if row.facts is None else flat_json(row.facts, "facts"),
        )
        # What the row changes for ``db.memo``: the head, and the entries naming a subject
        # only when it names one (``SUBJECTS``: what is read by subject, e.g. users' entries).
        touches = ("access_log",) if row.subject is None else ("access_log", SUBJECTS)
        stored = self.db.execute_returning(
            f"INSERT INTO access_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_COLUMNS}",
            values,
            touches=touches,
        )
        if [tuple(r) for r in stored] != [values]:
            raise IntegrityError(
                f"the access log did not record entry {row.seq} as written (a trigger or rule "
                "dropped or changed it); nothing was released"
            )
        self.db.remember(_HEAD, ("access_log",), row)

    def rows(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        job_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        subject: str | None = None,
    ) -> list[LogRow]:
        """The entries matching every given filter, in order (``since`` inclusive, ``until``
        exclusive)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in (
            ('"user"', "=", user),
            ("action", "=", action),
            ("job_id", "=", job_id),
            ("subject", "=", subject),
            ("time", ">=", since),
            ("time", "<", until),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(f"SELECT {_COLUMNS} FROM access_log{where} ORDER BY seq", params)
        return [_log(r) for r in rows]

    def rows_linked(
        self, *, job_id: str | None = None, subject: str | None = None
    ) -> tuple[list[LogRow], dict[int, str]]:
        """The entries about ``job_id`` (or naming ``subject``), in order, and the hash of the
        entry before each (by sequence number), in one statement: what a release checks of
        the job's own history, so an edited entry in the middle of the log is seen too.

        The same statement says whether the log's numbers run 1..N without a gap, and a gap
        is an ``IntegrityError``: an entry *deleted* from the middle (an erase, a
        user-disable) is no longer among the job's entries, so their links alone cannot
        show it. (A writer who re-numbers and re-hashes everything after the gap passes
        this too; ``verify --expect-head`` is what catches a rewritten log.) SQLite only: the
        count reads the whole log (about 1.5 ms of CPU per 10,000 entries), and on
        PostgreSQL only the owner can delete an entry, by disabling the triggers first
        (``verify`` sees the gap), and an owner can rewrite the log as well."""
        column, value = ("job_id", job_id) if job_id is not None else ("subject", subject)
        if self.dialect == "sqlite":
            # NOT INDEXED: the entries and the count are read from the table itself, the
            # b-tree whose rows the hash chain covers. An index is derived data a writer of
            # the file controls apart from the table: a row left out of access_log_job (or
            # _subject), and sqlite_stat1 steering count(*) to an intact index, hid a middle
            # erase or user-disable from this check (review-attack6 B8). Lookups by seq stay
            # rowid lookups in the table. Cost: docs/storage.md.
            # The entries' numbers are read by one scan (a CTE used twice is materialized
            # since SQLite 3.35; older versions scan twice, with the same result).
            sql = (
                f"WITH mine(seq) AS (SELECT seq FROM access_log NOT INDEXED WHERE {column} = ?) "
                f"SELECT {_COLUMNS}, (SELECT count(*) = COALESCE(max(seq), 0) "
                f"AND COALESCE(min(seq), 1) = 1 FROM access_log NOT INDEXED) "
                f"FROM access_log WHERE seq IN "
                f"(SELECT seq FROM mine UNION SELECT seq - 1 FROM mine) ORDER BY seq"
            )
            params: tuple[str | None, ...] = (value,)
        else:
            sql = (
                f"SELECT {_COLUMNS}, TRUE "
                f"FROM access_log WHERE seq IN ("
                f"SELECT seq FROM access_log WHERE {column} = ? "
                f"UNION SELECT seq - 1 FROM access_log WHERE {column} = ?) ORDER BY seq"
            )
            params = (value, value)
        found = self._query(sql, params)
        if found and not found[0][-1]:
            raise IntegrityError(
                "access log: an entry is missing (its numbers have a gap: deleted outside "
                "questa-vault); refusing to release"
            )
        rows = [_log(r) for r in found]
        mine = [r for r in rows if (r.job_id if job_id is not None else r.subject) == value]
        return mine, {r.seq: r.entry_hash for r in rows}

    def entry(self, seq: int) -> LogRow | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM access_log WHERE seq = ?", (seq,))
        return _log(rows[0]) if rows else None


def _log(r: Sequence[Any]) -> LogRow:
    """A log row; ``IntegrityError`` naming the entry when a column is damaged."""
    try:
        return _log_row(r)
    except IntegrityError as exc:
        raise IntegrityError(f"access log entry {r[0]!r}: {exc}") from exc


@checked("access log")
def _log_row(r: Sequence[Any]) -> LogRow:
    return LogRow(
        seq=int(r[0]),
        time=float(r[1]),
        user=str(r[2]),
        action=str(r[3]),
        job_id=r[4],
        counts=counts_column(r[5]),
        prev_hash=str(r[6]),
        entry_hash=str(r[7]),
        subject=r[8],
        facts=facts_column(r[9]),
    )
