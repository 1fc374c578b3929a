"""Copying a vault's rows between two databases, whatever their backends: the logical export
behind ``backup`` of a PostgreSQL vault and behind ``migrate``.

Every table the migrations make is copied column for column (the layout comes from the
migrations themselves, so a new column is copied without a change here), from one read
snapshot of the source. Rows are upserted by primary key, so a copy interrupted and run again
converges on the source; access-log rows are only ever added (the log is append-only), and
the caller verifies the copy's chain against the source's head. Jobs travel with their grants
and blobs, ``batch`` jobs per destination transaction, so a killed copy leaves whole jobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from vault.errors import StoreError
from vault.store._database import Database
from vault.store._sqlite import Layout, expected_layout

# Parents before children (foreign keys); the log last, after everything it speaks of.
_ORDER = ("vault_meta", "users", "jobs", "grants", "blobs", "access_log")
_SKIP = frozenset({"schema_migrations"})  # each side's own migrations


def _columns(layout: Layout, table: str) -> str:
    return ", ".join(f'"{c}"' for c in layout.tables[table])


def _upsert(layout: Layout, table: str) -> str:
    columns = layout.tables[table]
    keys = layout.keys[table]
    marks = ", ".join("?" * len(columns))
    others = [c for c in columns if c not in keys]
    if table == "access_log" or not others:
        action = "DO NOTHING"
    else:
        action = "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in others)
    conflict = ", ".join(f'"{k}"' for k in keys)
    return (
        f"INSERT INTO {table} ({_columns(layout, table)}) VALUES ({marks}) "
        f"ON CONFLICT ({conflict}) {action}"
    )


def copy_rows(
    src: Database,
    dst: Database,
    *,
    batch: int = 200,
    on_jobs: Callable[[int], None] | None = None,
) -> str:
    """Copy every row of ``src`` into ``dst`` (see the module docstring); the ``rows_digest``
    of the source snapshot that was copied."""
    layout = expected_layout()
    tables = [t for t in _ORDER if t in layout.tables]
    unknown = set(layout.tables) - set(tables) - _SKIP
    if unknown:
        raise StoreError(f"internal: no copy order for tables {sorted(unknown)}")
    with src.read():
        for table in ("vault_meta", "users"):
            rows = src.query(f"SELECT {_columns(layout, table)} FROM {table}")
            with dst.write():
                dst.execute_many(_upsert(layout, table), rows)
        job_ids = [str(r[0]) for r in src.query("SELECT job_id FROM jobs ORDER BY rowid")]
        for start in range(0, len(job_ids), batch):
            chunk = job_ids[start : start + batch]
            marks = ", ".join("?" * len(chunk))
            with dst.write():
                for table in ("jobs", "grants", "blobs"):
                    rows = src.query(
                        f"SELECT {_columns(layout, table)} FROM {table} "
                        f"WHERE job_id IN ({marks})"
                        + (" ORDER BY rowid" if table == "jobs" else ""),
                        chunk,
                    )
                    if table != "jobs":  # a job's rows of an older key version are gone
                        dst.execute(f"DELETE FROM {table} WHERE job_id IN ({marks})", chunk)
                    dst.execute_many(_upsert(layout, table), rows)
            if on_jobs is not None:
                on_jobs(min(start + batch, len(job_ids)))
        # Only the entries after the destination's head: the caller has made sure its log is a
        # prefix of the source's, and PostgreSQL refuses an entry that does not follow the head.
        head = int(dst.query("SELECT COALESCE(max(seq), 0) FROM access_log")[0][0])
        rows = src.query(
            f"SELECT {_columns(layout, 'access_log')} FROM access_log WHERE seq > ? ORDER BY seq",
            (head,),
        )
        for start in range(0, len(rows), 5000):
            with dst.write():
                dst.execute_many(_upsert(layout, "access_log"), rows[start : start + 5000])
        return rows_digest(src)


def rows_digest(db: Database) -> str:
    """SHA-256 over every row of every copied table, in primary-key order, values typed
    (bytes, text, integer, real, NULL), so two vaults holding the same rows agree whatever
    their backend."""
    layout = expected_layout()
    digest = hashlib.sha256()
    with db.read():
        for table in _ORDER:
            if table not in layout.tables:
                continue
            order = ", ".join(f'"{k}"' for k in layout.keys[table])
            digest.update(f"\x00table {table}\x00".encode())
            for row in db.query(f"SELECT {_columns(layout, table)} FROM {table} ORDER BY {order}"):
                digest.update(repr(tuple(_typed(v) for v in row)).encode())
    return digest.hexdigest()


def _typed(value: object) -> object:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, bool):
        return int(value)
    return value
