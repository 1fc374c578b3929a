"""``verify``: every check runs and reports its findings instead of stopping at the first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vault._dataclass import dataclass
from vault.client import is_job_id
from vault.custody import FIELD_FILE, FIELDS, LAST_LOG_TIME, Custodian, Session, parse_head
from vault.errors import (
    AccessDenied,
    InputError,
    IntegrityError,
    NoGrant,
    StoreError,
    Unavailable,
)
from vault.models import JobInfo, LogEntry
from vault.store import Database


@dataclass(frozen=True)
class Finding:
    """One problem ``verify`` found. ``check`` names the check; the message holds no value."""

    check: str  # database | schema | log | head | structure | state | deep
    message: str
    job_id: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found, and how many jobs it checked."""

    findings: tuple[Finding, ...]
    jobs: int  # jobs whose structure was checked
    deep_checked: int  # jobs decrypted and seal-checked (--deep)
    deep_skipped: int  # jobs the user holds no grant for (--deep)
    log_entries: int
    head: tuple[int, str]  # the log's stored head (seq, hash)
    notes: tuple[str, ...] = ()  # worth knowing, not a failure (e.g. a user's unsafe KDF)

    @property
    def ok(self) -> bool:
        return not self.findings


# Exceptions a damaged or hostile stored value can raise in a check, beyond the vault's own.
_UNMAPPED = (RecursionError, MemoryError, OverflowError, UnicodeError, ValueError, TypeError)


def verify(
    custodian: Custodian,
    *,
    session: Session | None = None,
    expect_head: str | None = None,
    record: bool = True,
) -> VerifyReport:
    """Run every check and collect the findings (an empty tuple: all is well). With a
    ``session`` the deep check is logged (``verify-deep``) unless ``record`` is False.

    A check that cannot run at all (a row cannot be read, a table is missing) becomes a
    finding of its own, and the other checks still run. What says nothing about the vault
    (``Unavailable``: no connection, the vault busy, the role not allowed) is never a
    finding: it ends the command (exit 1).
    """
    expected = parse_head(expect_head) if expect_head is not None else None
    if session is not None and record:
        # A role that cannot log the deep check is a permission problem (exit 1), found
        # before anything is decrypted, not an integrity finding.
        custodian.check_may_log("verify --deep", action="verify-deep", actor=session.user)
    db = custodian.db
    findings: list[Finding] = []

    def attempt(check: str, run: Callable[[], list[Finding]]) -> None:
        try:
            findings.extend(run())
        except Unavailable:
            raise  # the command failed (exit 1); it found nothing about the vault
        except (StoreError, IntegrityError) as exc:
            findings.append(Finding(check, str(exc)))
        except _UNMAPPED as exc:
            # A value that passed every check on its way in but breaks a conversion here (a
            # time beyond what datetime can hold, text that cannot be encoded, nesting beyond
            # the parser's bound): a finding about this check, and the others go on.
            findings.append(Finding(check, f"a stored value cannot be read ({type(exc).__name__})"))

    attempt("database", lambda: [Finding("database", p) for p in db.integrity_check()])
    attempt("schema", lambda: [Finding("schema", p) for p in db.schema_problems()])

    def check_chain() -> list[Finding]:
        custodian.verify_chain()  # IntegrityError names the first entry that does not fit
        return []

    attempt("log", check_chain)
    entries: list[LogEntry] = []
    head = (0, "")

    def read_log() -> list[Finding]:
        nonlocal head
        entries.extend(custodian.log_entries())
        head = custodian.log_head()
        # A time no reader can print (1970..9999, finite) was written past the library's
        # check (log shows it as "-"); its hash may well be valid
        out = [
            Finding("log", f"entry {e.seq} has a time that is not a date from 1970 to 9999")
            for e in entries
            if not 0 <= e.time <= LAST_LOG_TIME
        ]
        if expected is None:
            return out
        return out + _head_findings(expected, {e.seq: e.entry_hash for e in entries}, head)

    attempt("head", read_log)
    jobs: list[JobInfo] = []

    def check_structure() -> list[Finding]:
        jobs.extend(custodian.list_jobs())
        return _structure_findings(db, jobs)

    attempt("structure", check_structure)
    attempt(
        "state",
        lambda: [Finding("state", p.message, p.job_id) for p in custodian.state_problems()],
    )
    notes = tuple(
        f"user {u.name} has key-derivation settings below the floor (unsafe: for tests and "
        "demos only; `passwd` sets new ones)"
        for u in custodian.list_users()
        if u.unsafe_kdf
    )
    deep_checked = deep_skipped = 0
    if session is not None:
        deep: list[Finding] = []
        for job in jobs:
            if job.status == "erased":
                continue
            if session.user not in job.recipients:
                deep_skipped += 1
                continue
            try:
                session.check_job(job.job_id)
                deep_checked += 1
            except NoGrant:
                deep_skipped += 1
            except Unavailable:
                raise  # a lost connection or a busy vault is not a finding about this job
            except (IntegrityError, AccessDenied, InputError, StoreError) as exc:
                deep_checked += 1
                deep.append(Finding("deep", str(exc), job.job_id))
        findings += deep
        user = session.user

        def log_deep() -> list[Finding]:
            counts = {"jobs": deep_checked, "findings": len(deep)}
            custodian.record(user, "verify-deep", None, counts)
            return []

        if record:
            try:
                log_deep()
            except IntegrityError as exc:  # the log refused the entry: its chain is broken
                findings.append(Finding("log", str(exc)))
            # any StoreError (the role may not log this, no connection, the vault busy, a
            # COMMIT lost) ends the command: exit 1, no finding
    return VerifyReport(
        findings=tuple(findings),
        jobs=len(jobs),
        deep_checked=deep_checked,
        deep_skipped=deep_skipped,
        log_entries=len(entries),
        head=head,
        notes=notes,
    )


def _head_findings(
    expected: tuple[int, str], hashes: dict[int, str], head: tuple[int, str]
) -> list[Finding]:
    seq, digest = expected
    if seq == 0:
        return []
    if head[0] < seq:
        return [
            Finding(
                "head",
                f"the log ends at entry {head[0]} but entry {seq} was expected: "
                "the log was truncated or the vault rolled back",
            )
        ]
    if hashes.get(seq) != digest:
        return [
            Finding(
                "head",
                f"entry {seq} of the log does not have the expected hash: "
                "the log was rewritten or this is another vault",
            )
        ]
    return []


def _structure_findings(db: Database, jobs: Sequence[JobInfo]) -> list[Finding]:
    layout: dict[str, dict[str, list[tuple[int, int]]]] = {}
    sizes: dict[str, int] = {}
    for job_id, field, idx, version, size in db.blobs.layout():
        layout.setdefault(job_id, {}).setdefault(field, []).append((idx, version))
        sizes[job_id] = sizes.get(job_id, 0) + size
    grant_versions: dict[str, set[int]] = {}
    for job_id, _user, version in db.grants.layout():
        grant_versions.setdefault(job_id, set()).add(version)
    known = {j.job_id for j in jobs}
    findings: list[Finding] = []
    for job in jobs:
        if not is_job_id(job.job_id):  # stored past the library's rule and the database's
            findings.append(
                Finding("structure", "the job's id is outside the job-id rule", job.job_id)
            )
        fields = layout.get(job.job_id, {})
        if job.status == "erased":
            if fields:
                findings.append(
                    Finding("structure", "an erased job still holds ciphertext", job.job_id)
                )
            if job.job_id in grant_versions:
                findings.append(
                    Finding("structure", "an erased job still holds wrapped keys", job.job_id)
                )
            continue
        readable = bool(job.recipients)
        if not readable:
            findings.append(
                Finding(
                    "structure",
                    "no user holds a grant for the current key version: the job is unreadable",
                    job.job_id,
                )
            )
        if sizes.get(job.job_id, 0) != job.ciphertext_size:
            # The row's (sealed) size against the rows stored: a chunk added or dropped
            # without the key is seen here, not only by the seal check of --deep.
            findings.append(
                Finding(
                    "structure",
                    "the stored ciphertexts do not add up to the size the job records",
                    job.job_id,
                )
            )
        for field, chunks in sorted(fields.items()):
            indexes = sorted(i for i, _ in chunks)
            if field not in FIELDS:
                findings.append(Finding("structure", "ciphertext of an unknown field", job.job_id))
            elif field != FIELD_FILE and len(chunks) != 1:
                findings.append(
                    Finding("structure", f"the {field} field has more than one chunk", job.job_id)
                )
            versions = {v for _, v in chunks}
            if indexes != list(range(len(indexes))):
                findings.append(
                    Finding("structure", f"the {field} chunks are not contiguous", job.job_id)
                )
            if len(versions) != 1 or not all(1 <= v <= job.key_version for v in versions):
                findings.append(
                    Finding("structure", f"the {field} chunks have a wrong key version", job.job_id)
                )
            elif readable and versions - grant_versions.get(job.job_id, set()):
                findings.append(
                    Finding(
                        "structure", f"no user holds the key version of its {field}", job.job_id
                    )
                )
    for job_id in sorted(set(layout) - known):
        findings.append(Finding("structure", "ciphertext without a job row", job_id))
    return findings
