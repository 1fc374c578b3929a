"""The vault's state checked against its own access log.

Rows can be edited by anyone who can write the file, but the log is hash-chained (and its
head can be anchored outside the vault), so every entry that changes a job or a user also
records the state it leaves behind, its *facts*:

- a job entry (``submit``, ``fetch``, ``expire``, ``grant``, ``revoke``): the job's status,
  key version, the SHA-256 of its seal, and its holders (key version, user, public-key
  fingerprint of every grant);
- a user entry (``user-add``, ``passwd``): the user's public-key fingerprint and KDF settings
  (algorithm, cost, salt, and whether they were accepted below the floor on purpose).

Replaying a job's or a user's entries then says what the rows must look like: a job archived
once is never archived again, an erased job stays erased, a revoke moves the key version
past the old one, a disabled user stays disabled, a grant row outside the recorded holders
is foreign. Entries written before facts existed (``facts`` is ``None``) are checked only
for the order of events. The job seal (format 2) authenticates the same holders under the
job's data key, so a reader with a grant checks them with a key as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import vault.crypto as crypto
from vault._dataclass import dataclass
from vault.custody import _log
from vault.errors import IntegrityError
from vault.store import Database, GrantRow, JobRow, LogRow, UserRow

# Log actions that change a job's rows (reads such as restore or export do not).
JOB_ACTIONS = frozenset({"submit", "fetch", "expire", "grant", "revoke", "erase"})
# Log actions that change a user's row.
USER_ACTIONS = frozenset({"user-add", "user-disable", "passwd"})

Holder = tuple[int, str, str]  # key version, user name, public-key fingerprint


@dataclass(frozen=True)
class Problem:
    """One way the rows disagree with the log; names jobs and users, never values."""

    message: str
    job_id: str | None = None


StateProblem = Problem  # exported as ``vault.custody.StateProblem``


# --------------------------------------------------------------------------- facts


def holders(db: Database, job_id: str) -> list[Holder]:
    """Every grant of the job as ``(key version, user, fingerprint)``, sorted."""
    users = {u.name: u for u in db.users.all()}
    return holders_of([(g.key_version, g.user) for g in db.grants.of_job(job_id)], users)


def holders_with_keys(grants: Iterable[tuple[GrantRow, bytes]]) -> list[Holder]:
    """``holders`` from ``db.grants.of_job_with_keys`` (each grant with its user's public
    key), without reading the users again."""
    return sorted({(g.key_version, g.user, crypto.fingerprint(key)) for g, key in grants})


def holders_of(grants: Iterable[tuple[int, str]], users: Mapping[str, UserRow]) -> list[Holder]:
    """``(key version, user)`` pairs as holders with the users' fingerprints, sorted and
    without repeats (``?`` for a user the vault does not know)."""
    out: set[Holder] = set()
    for version, name in grants:
        user = users.get(name)
        out.add((version, name, crypto.fingerprint(user.public_key) if user is not None else "?"))
    return sorted(out)


def seal_holders(items: Iterable[Holder]) -> crypto.Field:
    """The holders as the seal (format 2) authenticates them."""
    return [[version, name, fp] for version, name, fp in sorted(items)]


def encode_holders(items: Iterable[Holder]) -> str:
    """The holders as a log fact: ``version:name:fingerprint`` joined by spaces (names hold
    no space or colon)."""
    return " ".join(f"{v}:{n}:{fp}" for v, n, fp in sorted(items))


def seal_digest(seal: bytes | None) -> str:
    return "" if seal is None else crypto.sha256(seal).hex()


def job_facts(row: JobRow, items: Iterable[Holder]) -> dict[str, str | int]:
    """What a job entry records: the state the job is left in."""
    return {
        "status": row.status,
        "key_version": row.key_version,
        "seal": seal_digest(row.seal),
        "holders": encode_holders(items),
    }


def kdf_text(user: UserRow) -> str:
    """A user's KDF settings as one fact (``none`` for a public-key-only user)."""
    if user.wrapped_key is None:
        return "none"
    salt = "" if user.kdf_salt is None else user.kdf_salt.hex()
    return f"{user.kdf_algorithm}:{user.kdf_memory_kib}:{user.kdf_passes}:{user.kdf_lanes}:{salt}"


def user_facts(user: UserRow, *, unsafe: bool) -> dict[str, str | int]:
    """What a user entry records: the public key's fingerprint and the KDF settings."""
    return {
        "fingerprint": crypto.fingerprint(user.public_key),
        "kdf": kdf_text(user),
        "kdf_unsafe": int(unsafe),
    }


# --------------------------------------------------------------------------- head


def check_head(db: Database, vault_id: str) -> LogRow:
    """The newest log entry; ``IntegrityError`` unless it hashes correctly, follows the
    entry before it, and the triggers that keep the log append-only are in place. Two
    statements (the newest two rows, the triggers): cheap enough before every release."""
    head, guarded = db.log.head_guarded()
    if not head:
        raise IntegrityError("the access log is empty: refusing to release anything")
    last = head[0]
    # The entry before must be seq - 1 itself: a gap (a deleted row) is no predecessor.
    before = {head[1].seq: head[1].entry_hash} if len(head) > 1 else {}
    check_entries([last], before, vault_id)
    if not guarded:
        raise IntegrityError(
            "the access log's append-only triggers are missing or altered; refusing to release"
        )
    return last


def check_entries(entries: Sequence[LogRow], before: Mapping[int, str], vault_id: str) -> None:
    """``IntegrityError`` unless each entry hashes to its ``entry_hash`` and links to the
    hash of the entry before it (``before[seq - 1]``; the genesis hash for entry 1)."""
    for entry in entries:
        expected = crypto.GENESIS_HASH if entry.seq == 1 else before.get(entry.seq - 1)
        if expected is None or not crypto.constant_time_equal(
            expected.encode(), entry.prev_hash.encode()
        ):
            raise IntegrityError(
                f"access log: entry {entry.seq} does not follow its predecessor; "
                "refusing to release"
            )
        if not crypto.constant_time_equal(
            _log.rehash(entry, vault_id).encode(), entry.entry_hash.encode()
        ):
            raise IntegrityError(f"access log: entry {entry.seq} was altered; refusing to release")


# --------------------------------------------------------------------------- jobs


def job_problems(
    job_id: str,
    row: JobRow | None,
    entries: Sequence[LogRow],
    grants: Sequence[Holder] | None,
) -> list[Problem]:
    """How the job's rows disagree with its log entries (``entries`` in order, any action;
    ``grants`` the job's grant rows as holders, or ``None`` when not to compare them)."""
    problems: list[Problem] = []

    def bad(message: str) -> None:
        problems.append(Problem(message, job_id))

    events = [e for e in entries if e.action in JOB_ACTIONS]
    if not events:
        if row is not None:
            bad(f"job {job_id} is not in the access log: it was added outside questa-vault")
        return problems
    fetched = erased = False
    last_facts: Mapping[str, str | int] | None = None
    for n, entry in enumerate(events):
        action = entry.action
        if erased:
            bad(f"the access log shows job {job_id} changed after it was erased")
            break
        if action == "submit" and n != 0:
            bad(f"the access log shows job {job_id} submitted twice")
        elif action == "fetch":
            if fetched:
                bad(f"the access log shows job {job_id} archived twice")
            fetched = True
        elif action == "expire" and fetched:
            bad(f"the access log shows job {job_id} expired after it was archived")
        elif action in ("grant", "revoke") and n == 0:
            bad(f"the access log shows job {job_id} shared before it was stored")
        if action == "erase":
            erased = True
            continue
        if entry.facts is None:
            continue
        facts = entry.facts
        if last_facts is not None:
            before, after = _version(last_facts), _version(facts)
            if after < before or (action == "revoke" and after <= before):
                bad(f"the access log shows the key version of job {job_id} going backwards")
            if facts.get("holders") != last_facts.get("holders") and facts.get(
                "seal"
            ) == last_facts.get("seal"):
                bad(f"the access log shows the holders of job {job_id} changed without a new seal")
        last_facts = facts
    if row is None:
        bad(f"job {job_id} is in the access log but missing from the vault: its rows were deleted")
        return problems
    if erased:
        if row.status != "erased":
            bad(f"the access log says job {job_id} was erased, but it is {row.status}")
        return problems
    if row.status == "erased":
        bad(f"job {job_id} is erased, but the access log has no erase entry for it")
        return problems
    if fetched and row.status not in ("archived", "failed"):
        bad(f"the access log says job {job_id} was archived, but it is {row.status}")
    if not fetched and row.status not in ("pending", "expired"):
        bad(f"job {job_id} is {row.status}, but the access log never archived it")
    if last_facts is None:
        return problems
    if last_facts.get("status", row.status) != row.status:
        bad(f"job {job_id} is {row.status}, but the access log left it {last_facts['status']}")
    if _version(last_facts) != row.key_version:
        bad(
            f"job {job_id} has key version {row.key_version}, but the access log says "
            f"{_version(last_facts)}: its rows were rolled back or replaced"
        )
    elif last_facts.get("seal") != seal_digest(row.seal):
        bad(
            f"the seal of job {job_id} is not the one the access log recorded: its rows were "
            "rolled back or replaced"
        )
    if grants is not None and last_facts.get("holders") != encode_holders(grants):
        bad(
            f"the grants of job {job_id} differ from the holders the access log recorded "
            "(a grant row was added, removed or moved outside questa-vault)"
        )
    return problems


def _version(facts: Mapping[str, str | int]) -> int:
    value = facts.get("key_version", 0)
    return value if isinstance(value, int) else 0


def check_job(db: Database, job_id: str, vault_id: str) -> None:
    """``IntegrityError`` (the first problem) unless the job's rows match its log entries:
    one indexed read of its entries, its row and its grants (before archiving over a pending
    job)."""
    check_job_rows(db, job_id, db.jobs.get(job_id), holders(db, job_id), vault_id)


def check_job_rows(
    db: Database, job_id: str, row: JobRow | None, grants: Sequence[Holder], vault_id: str
) -> None:
    """``check_job`` for a caller that has just read the job's row and holders (before every
    release): the job's log entries and their predecessors are read in one indexed statement,
    each entry re-hashed and its link checked (an erase edited in the middle of the log is
    refused here, not only by ``verify``), then replayed against the rows."""
    entries, before = db.log.rows_linked(job_id=job_id)
    check_entries(entries, before, vault_id)
    problems = job_problems(job_id, row, entries, grants)
    if problems:
        raise IntegrityError(problems[0].message)


# --------------------------------------------------------------------------- users


def user_problems(name: str, row: UserRow | None, entries: Sequence[LogRow]) -> list[Problem]:
    """How a user's row disagrees with the user's log entries (``user-add``, ``passwd``,
    ``user-disable`` naming the user, in order)."""
    events = [e for e in entries if e.action in USER_ACTIONS and _about(e) == name]
    problems: list[Problem] = []
    if not any(e.action == "user-add" for e in events):
        if row is not None:
            problems.append(
                Problem(f"user {name} is not in the access log: added outside questa-vault")
            )
        return problems
    if row is None:
        problems.append(Problem(f"user {name} is in the access log but missing from the vault"))
        return problems
    if any(e.action == "user-disable" for e in events) and row.enabled:
        problems.append(
            Problem(f"the access log says user {name} was disabled, but the user is enabled")
        )
    added = next((e.facts for e in events if e.action == "user-add" and e.facts), None)
    if added is not None and added.get("fingerprint") != crypto.fingerprint(row.public_key):
        problems.append(
            Problem(f"the public key of user {name} is not the one the access log recorded")
        )
    keyed = [e for e in events if e.action in ("user-add", "passwd") and e.facts is not None]
    if keyed and keyed[-1].facts is not None and keyed[-1].facts.get("kdf") != kdf_text(row):
        problems.append(
            Problem(
                f"the key-derivation settings of user {name} are not the ones the access log "
                "recorded (edited outside questa-vault)"
            )
        )
    return problems


def _about(entry: LogRow) -> str | None:
    # ``passwd`` entries written before facts existed name the user as the actor only.
    return entry.subject if entry.subject is not None else entry.user


def user_key_facts(db: Database, name: str) -> Mapping[str, str | int] | None:
    """The facts of the user's newest ``user-add``/``passwd`` entry (``None``: none recorded,
    a vault from before facts existed)."""
    return key_facts(db.log.rows(subject=name))


def key_facts(entries: Sequence[LogRow]) -> Mapping[str, str | int] | None:
    """``user_key_facts`` from the user's entries (``db.log.rows(subject=name)``)."""
    keyed = [e for e in entries if e.action in ("user-add", "passwd") and e.facts is not None]
    return keyed[-1].facts if keyed else None


def check_user(db: Database, row: UserRow, vault_id: str) -> list[LogRow]:
    """``IntegrityError`` unless the user's log entries hash and link correctly and the row
    matches them (before unlocking); the entries about the user, for ``key_facts``."""
    entries, before = db.log.rows_linked(subject=row.name)
    check_entries(entries, before, vault_id)
    problems = user_problems(row.name, row, [e for e in entries if e.action in USER_ACTIONS])
    if problems:
        raise IntegrityError(problems[0].message)
    return entries


def check_user_absent(db: Database, name: str) -> None:
    """``IntegrityError`` if the log already knows a user ``name`` (whose row is gone)."""
    if any(e.action == "user-add" for e in db.log.rows(subject=name)):
        raise IntegrityError(
            f"user {name} is in the access log but missing from the vault: its row was deleted"
        )


# --------------------------------------------------------------------------- the whole vault


def vault_problems(db: Database) -> list[Problem]:
    """Every job and user checked against the whole log (``verify``; no key needed)."""
    by_job: dict[str, list[LogRow]] = {}
    by_user: dict[str, list[LogRow]] = {}
    for entry in db.log.rows():
        if entry.job_id is not None and entry.action in JOB_ACTIONS:
            by_job.setdefault(entry.job_id, []).append(entry)
        if entry.action in USER_ACTIONS:
            about = _about(entry)
            if about is not None:
                by_user.setdefault(about, []).append(entry)
    users = {u.name: u for u in db.users.all()}
    jobs = {j.job_id: j for j in db.jobs.all()}
    grants: dict[str, list[Holder]] = {}
    for job_id, name, version in db.grants.layout():
        user = users.get(name)
        fp = crypto.fingerprint(user.public_key) if user is not None else "?"
        grants.setdefault(job_id, []).append((version, name, fp))
    problems: list[Problem] = []
    for job_id in sorted(set(jobs) | set(by_job)):
        problems += job_problems(
            job_id, jobs.get(job_id), by_job.get(job_id, []), grants.get(job_id, [])
        )
    for name in sorted(set(users) | set(by_user)):
        problems += user_problems(name, users.get(name), by_user.get(name, []))
    return problems
