"""Choosing jobs (by id, every live job, older than N days) and sharing or withdrawing them:
``grant`` seals a job's key to one more user through ``Session.grant``; ``revoke`` plans
first (which jobs, which would lose their last reader, which the acting user cannot re-key)
and then lets ``Session.revoke`` drop the grants and re-key in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vault._dataclass import dataclass
from vault.custody import Custodian, Session
from vault.errors import InputError, NoGrant, UnknownJob, UnknownUser
from vault.models import JobInfo

# ---------------------------------------------------------------------------------------------
# Choosing jobs


def live_jobs(custodian: Custodian) -> list[JobInfo]:
    """Every job that is not erased."""
    return [j for j in custodian.list_jobs() if j.status != "erased"]


def known_jobs(custodian: Custodian, job_ids: Iterable[str]) -> list[JobInfo]:
    """The named jobs, in the order given (duplicates dropped); ``UnknownJob`` for any that
    the vault does not hold."""
    out: list[JobInfo] = []
    seen: set[str] = set()
    for job_id in job_ids:
        if job_id in seen:
            continue
        seen.add(job_id)
        job = custodian.get_job(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id} in this vault")
        out.append(job)
    return out


def older_than(jobs: Iterable[JobInfo], days: float, *, now: float) -> list[JobInfo]:
    """Jobs (not yet erased) that entered the vault more than ``days`` days before ``now``.

    The age counts from ``JobInfo.audit_time`` (archived, else fetched,
    submitted or created); a job with no time at all is never selected.
    """
    if days < 0:
        raise InputError("--older-than takes a number of days, 0 or more")
    cutoff = now - days * 86400
    selected = []
    for job in jobs:
        ts = job.audit_time
        if job.status != "erased" and ts is not None and ts < cutoff:
            selected.append(job)
    return selected


# ---------------------------------------------------------------------------------------------
# Grant and revoke


def grant(
    custodian: Custodian, session: Session, user: str, job_ids: Sequence[str] | None
) -> list[str]:
    """Share jobs with ``user``; ``None`` means every live job the session's user can read.

    Returns the jobs newly granted (jobs ``user`` already holds are left alone).
    """
    if job_ids is None:
        ids = [j.job_id for j in live_jobs(custodian) if session.user in j.recipients]
    else:
        ids = [j.job_id for j in known_jobs(custodian, job_ids)]
    if not ids:
        return []
    return session.grant(user, ids)


@dataclass(frozen=True)
class RevokePlan:
    """What a revoke would do, worked out before any change."""

    user: str
    job_ids: tuple[str, ...]  # jobs the user holds a grant for: these are re-keyed
    orphaned: tuple[str, ...]  # of those, jobs nobody else could read afterwards
    not_rekeyable: tuple[str, ...]  # of those, jobs the acting user cannot read (cannot re-key)


def plan_revoke(
    custodian: Custodian, actor: str, user: str, job_ids: Sequence[str] | None
) -> RevokePlan:
    """Which jobs a revoke of ``user`` touches; ``None`` means all of the user's jobs."""
    if user not in {u.name for u in custodian.list_users()}:
        raise UnknownUser(f"no user {user} in this vault")
    jobs = live_jobs(custodian) if job_ids is None else known_jobs(custodian, job_ids)
    db = custodian.db
    held: list[str] = []
    orphaned: list[str] = []
    blocked: list[str] = []
    for job in jobs:
        if job.status == "erased":
            if job_ids is not None:
                raise UnknownJob(f"job {job.job_id} was erased")
            continue
        # Any key version counts: an older grant still opens the fields of that version.
        grants = db.grants.of_job(job.job_id)
        versions = {g.key_version for g in grants if g.user == user}
        if not versions:
            continue
        held.append(job.job_id)
        # Each re-keyed version (the current one and those the user holds) keeps its own
        # holders; one left with none leaves its fields unreadable.
        if any(
            not {g.user for g in grants if g.key_version == v} - {user}
            for v in versions | {job.key_version}
        ):
            orphaned.append(job.job_id)
        if actor not in job.recipients:
            blocked.append(job.job_id)
    return RevokePlan(user, tuple(held), tuple(orphaned), tuple(blocked))


def _listing(job_ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(job_ids[:limit])
    more = len(job_ids) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def revoke(
    session: Session, plan: RevokePlan, *, force: bool = False, disable: bool = False
) -> list[str]:
    """Withdraw the plan's grants and re-key its jobs in one transaction; the jobs re-keyed.
    ``disable`` also disables the user in that transaction (``revoke --all``).

    Refuses (``InputError``) when a job would be left without a reader unless ``force``:
    forcing makes those jobs unreadable for good. ``NoGrant`` when the acting user cannot read
    a job it would have to re-key.
    """
    if plan.not_rekeyable:
        raise NoGrant(
            f"user {session.user} cannot re-key {len(plan.not_rekeyable)} job(s) that "
            f"{plan.user} holds ({_listing(plan.not_rekeyable)}): revoke as a user who holds "
            "a grant for them"
        )
    if plan.orphaned and not force:
        raise InputError(
            f"refusing: {plan.user} is the last user with access to "
            f"{len(plan.orphaned)} job(s) ({_listing(plan.orphaned)}); revoking would make "
            "them unreadable for good. Use --force to do it anyway, or erase them"
        )
    if not plan.job_ids and not disable:
        return []
    return session.revoke(plan.user, list(plan.job_ids), force=force, disable=disable)
