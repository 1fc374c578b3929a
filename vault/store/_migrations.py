"""The vault's schema as ordered, append-only migrations.

Each migration is a name and a list of SQL statements. They run in order, each inside the
same ``BEGIN IMMEDIATE`` transaction as its row in ``schema_migrations``, so a migration is
either wholly applied and recorded or not at all. Never edit or reorder a released migration:
append a new one. ``docs/storage.md`` describes every table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vault.errors import IntegrityError, StoreError, VaultError

JOB_STATUSES_SQL = "('pending', 'archived', 'failed', 'expired', 'erased')"

M001_INITIAL: Sequence[str] = (
    """
    CREATE TABLE vault_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE users (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_at     REAL NOT NULL,
        public_key     BLOB NOT NULL,
        wrapped_key    BLOB,
        kdf_algorithm  TEXT,
        kdf_memory_kib INTEGER,
        kdf_passes     INTEGER,
        kdf_lanes      INTEGER,
        kdf_salt       BLOB,
        key_changed_at REAL
    )
    """,
    f"""
    CREATE TABLE jobs (
        job_id                     TEXT PRIMARY KEY,
        status                     TEXT NOT NULL CHECK (status IN {JOB_STATUSES_SQL}),
        file_type                  TEXT NOT NULL,
        source                     TEXT NOT NULL,
        created_at                 REAL,
        submitted_at               REAL,
        fetched_at                 REAL,
        archived_at                REAL,
        expires_at                 REAL,
        entity_count               INTEGER NOT NULL DEFAULT 0,
        map_size                   INTEGER NOT NULL DEFAULT 0,
        entity_counts              TEXT NOT NULL DEFAULT '{{}}',
        shared_placeholders        INTEGER NOT NULL DEFAULT 0,
        placeholder_like_originals INTEGER NOT NULL DEFAULT 0,
        file_size                  INTEGER NOT NULL DEFAULT 0,
        chunk_count                INTEGER NOT NULL DEFAULT 0,
        ciphertext_size            INTEGER NOT NULL DEFAULT 0,
        key_version                INTEGER NOT NULL DEFAULT 0,
        seal                       BLOB,
        updated_at                 REAL NOT NULL
    )
    """,
    "CREATE INDEX jobs_status ON jobs (status)",
    """
    CREATE TABLE grants (
        job_id      TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
        user_id     INTEGER NOT NULL REFERENCES users (id),
        key_version INTEGER NOT NULL,
        sealed_dek  BLOB NOT NULL,
        created_at  REAL NOT NULL,
        PRIMARY KEY (job_id, user_id, key_version)
    )
    """,
    "CREATE INDEX grants_user ON grants (user_id)",
    """
    CREATE TABLE blobs (
        job_id      TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
        field       TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        key_version INTEGER NOT NULL,
        data        BLOB NOT NULL,
        PRIMARY KEY (job_id, field, idx)
    )
    """,
    """
    CREATE TABLE access_log (
        seq        INTEGER PRIMARY KEY,
        time       REAL NOT NULL,
        user       TEXT NOT NULL,
        action     TEXT NOT NULL,
        job_id     TEXT,
        subject    TEXT,
        counts     TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        entry_hash TEXT NOT NULL
    )
    """,
    "CREATE INDEX access_log_job ON access_log (job_id)",
    """
    CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END
    """,
    """
    CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END
    """,
)

# The API base URL each job was submitted to or last fetched from (NULL: recorded before this
# migration). Polling goes to the job's own server, and only that server's 404 may expire it.
# Plain ``ALTER TABLE ... ADD COLUMN`` of a nullable TEXT: the same SQL in SQLite and PostgreSQL.
M002_JOB_API_URL: Sequence[str] = ("ALTER TABLE jobs ADD COLUMN api_url TEXT",)

# The state an access-log entry leaves behind (a JSON object: key version, seal digest,
# holders, KDF settings), so that ``verify`` can check the vault against its own log; and an
# index to find a user's entries. Plain standard SQL.
M003_LOG_FACTS: Sequence[str] = (
    "ALTER TABLE access_log ADD COLUMN facts TEXT",
    "CREATE INDEX access_log_subject ON access_log (subject)",
)

# Nothing on SQLite. On PostgreSQL every migration also rebuilds the extras of
# ``_pg_schema.postgres_extras``: this one brings existing vaults the version whose functions
# name every relation with its schema and fix their search path (before it, a role that could
# fire the audit trigger could make it run its own code as the vault's owner), and the check
# that every new log entry follows the head of the chain.
M004_POSTGRES_GUARDS: Sequence[str] = ()

# The one job-id rule (``vault.client.check_job_id``: a letter or digit, then letters, digits,
# ``.``, ``_``, ``-``, at most 128 in all) held by the database too, so a client that skips
# the library's check (a fetch host's own code) cannot store an id with ``/``, ``..``, a
# control character or a formula. Written in SQL both engines read: ``trim`` removes the
# allowed characters from both ends, so anything left is a character outside the rule. A job
# stored before keeps its id (an update that keeps the id is not checked, so it can still be
# erased). On PostgreSQL this migration also brings the extras' new chain check (log times).
_JOB_ID_BAD = (
    "length(NEW.job_id) NOT BETWEEN 1 AND 128 "
    "OR trim(NEW.job_id, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._-') "
    "<> '' OR substr(NEW.job_id, 1, 1) IN ('.', '_', '-')"
)
_JOB_ID_REFUSED = "a job id is a letter or digit, then letters, digits, dots, underscores, hyphens"
M005_JOB_ID_RULE: Sequence[str] = (
    f"""
    CREATE TRIGGER jobs_id_rule BEFORE INSERT ON jobs WHEN {_JOB_ID_BAD}
    BEGIN SELECT RAISE(ABORT, '{_JOB_ID_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER jobs_id_rule_update BEFORE UPDATE ON jobs
    WHEN NEW.job_id <> OLD.job_id AND ({_JOB_ID_BAD})
    BEGIN SELECT RAISE(ABORT, '{_JOB_ID_REFUSED}'); END
    """,
)

# (name, statements), in the order they apply. Append only.
MIGRATIONS: Sequence[tuple[str, Sequence[str]]] = (
    ("m001_initial", M001_INITIAL),
    ("m002_job_api_url", M002_JOB_API_URL),
    ("m003_log_facts", M003_LOG_FACTS),
    ("m004_postgres_guards", M004_POSTGRES_GUARDS),
    ("m005_job_id_rule", M005_JOB_ID_RULE),
)

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    applied_at REAL NOT NULL
)
"""

# The triggers that keep the access log append-only, as the migrations create them: name ->
# the CREATE statement with its whitespace collapsed (the form in which SQLite's catalogue
# holds it). Checked before every release, so taken from the migrations' text here rather
# than by building a database in memory; a test holds it to the catalogue of a fresh vault.
LOG_TRIGGERS: Mapping[str, str] = {
    " ".join(sql.split()).split()[2]: " ".join(sql.split())
    for _, statements in MIGRATIONS
    for sql in statements
    if " ".join(sql.split()).startswith("CREATE TRIGGER ")
    and " ".join(sql.split()).split()[6] == "access_log"
}


def unknown_schema(applied: Sequence[object]) -> VaultError:
    """The refusal of a vault whose applied migrations are not a start of ``MIGRATIONS``
    (a newer version, or a branch, migrated it): which ones, and what to do. A name that is
    not text (NULL, a number, bytes: a damaged file, no version writes one) is damage."""
    from vault._version import __version__

    if not all(isinstance(name, str) for name in applied):
        return IntegrityError(
            "the vault's list of applied migrations is damaged (a name that is not text in "
            "schema_migrations): restore a backup (nothing was changed)"
        )
    names = [name for name in applied if isinstance(name, str)]
    known = [name for name, _ in MIGRATIONS]
    strange = [name for name in names if name not in known] or [
        name for name, k in zip(names, known, strict=False) if name != k
    ]
    shown = ", ".join(name[:64] for name in strange[:3]) + (", ..." if len(strange) > 3 else "")
    return StoreError(
        "this vault was written by a newer or different version of questa-vault: it has "
        f"migration(s) that version {__version__} does not know ({shown}); use the version "
        "that migrated it, or a backup taken before (nothing was changed)"
    )
