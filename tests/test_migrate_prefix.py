"""``migrate`` writes only into a destination that is an older (or partial) copy of the source:
its log must be a prefix of the source's. Anything else, and above all an old backup migrated
onto the live vault, is refused before the first write (exit 1, one line), on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import FAST, PASSPHRASE, new_vault, sample_job

from vault.custody import Custodian
from vault.lifecycle import backup, erase, plan_revoke, revoke
from vault.store import open_database, rows_digest

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
REFUSED = "the source does not have"


def digest(location: Path | str) -> str:
    with open_database(location) as db:
        return rows_digest(db)


def _erase(kr: Custodian) -> None:
    erase(kr, ["job-0"], actor="alice")


def _revoke(kr: Custodian) -> None:
    session = kr.unlock("alice", PASSPHRASE)
    revoke(session, plan_revoke(kr, "alice", "bob", ["job-1"]))


def _passwd(kr: Custodian) -> None:
    kr.unlock("bob", PASSPHRASE).change_passphrase("another passphrase", FAST)


def _disable(kr: Custodian) -> None:
    kr.disable_user("bob", actor="alice")


def _new_job(kr: Custodian) -> None:
    kr.store_job(sample_job("job-9"), actor="alice")


def _nothing(kr: Custodian) -> None:
    """Only the backup's own entry, which the backup file does not hold."""


# What happened to the live vault after the backup was taken: each would be undone in the live
# vault (an erased job's sealed keys and ciphertexts back, a revoked grant back, bob's old
# passphrase back, bob enabled again) if migrate wrote before it checked.
SINCE_THE_BACKUP: dict[str, Callable[[Custodian], None]] = {
    "erase": _erase,
    "revoke": _revoke,
    "passwd": _passwd,
    "user disable": _disable,
    "a new job": _new_job,
    "nothing": _nothing,
}


@pytest.mark.parametrize("change", SINCE_THE_BACKUP.values(), ids=SINCE_THE_BACKUP.keys())
def test_an_old_backup_is_not_migrated_onto_the_live_vault(
    vault_location: Path | str, tmp_path: Path, change: Callable[[Custodian], None]
) -> None:
    with new_vault(vault_location) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-0"), actor="alice")
        kr.store_job(sample_job("job-1"), actor="alice")
        assert "bob" in kr.get_job("job-1").recipients
        backup(kr, tmp_path / "old.db", actor="alice")
        change(kr)
    before = digest(vault_location)
    result = invoke(["migrate", str(tmp_path / "old.db"), str(vault_location)])
    assert result.exit_code == 1, result.output
    assert REFUSED in result.stderr and "nothing written" in result.stderr
    assert result.stderr.count("\n") == 1
    assert digest(vault_location) == before


def test_copies_that_went_separate_ways_are_refused(
    vault_location: Path | str, tmp_path: Path
) -> None:
    src = tmp_path / "src.db"
    with new_vault(src) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    assert invoke(["migrate", str(src), str(vault_location)]).exit_code == 0
    with Custodian.open(src) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    with Custodian.open(vault_location) as kr:
        kr.store_job(sample_job("job-2"), actor="alice")
        kr.store_job(sample_job("job-3"), actor="alice")
    before = digest(vault_location)
    result = invoke(["migrate", str(src), str(vault_location)])
    assert result.exit_code == 1, result.output
    assert f"has 2 log entries {REFUSED}" in result.stderr
    assert digest(vault_location) == before


def test_deep_migrate_then_migrate_again_brings_the_newer_entries(
    vault_location: Path | str, tmp_path: Path
) -> None:
    """The deep check logs nothing in the copy, so the copy stays a prefix of the source and
    the next run continues it; its printed head is the copy's head."""
    src = tmp_path / "src.db"
    with new_vault(src) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    dest = str(vault_location)
    assert invoke(["migrate", src.as_posix(), dest]).exit_code == 0
    deep = invoke(["--user", "alice", "migrate", src.as_posix(), dest, "--deep", "--json"], env=ENV)
    assert deep.exit_code == 0, deep.output
    with Custodian.open(vault_location) as kr:
        assert kr.log_entries()[-1].action != "verify-deep"
        assert f"{kr.log_head()[0]}" in deep.stdout
    with Custodian.open(src) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    again = invoke(["migrate", src.as_posix(), dest])
    assert again.exit_code == 0, again.output
    # an existing vault brought forward is said so (it could be a backup named as DEST)
    assert "already held this vault up to log entry 3; brought it up to date" in again.stderr
    assert digest(vault_location) == digest(src)
    same = invoke(["migrate", src.as_posix(), dest])
    assert same.exit_code == 0, same.output
    assert "it was up to date, nothing was copied" in same.stderr, same.stderr
    assert "migrated" not in same.stderr and "next:" not in same.stderr
    assert digest(vault_location) == digest(src)


def test_a_copy_used_since_is_refused_with_the_way_out(
    vault_location: Path | str, tmp_path: Path
) -> None:
    src = tmp_path / "src.db"
    with new_vault(src) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    assert invoke(["migrate", src.as_posix(), str(vault_location)]).exit_code == 0
    out = tmp_path / "out.csv"  # a release, logged in the copy
    args = ["--vault", str(vault_location), "--user", "alice", "export", "job-0", "-o", str(out)]
    assert invoke(args, env=ENV).exit_code == 0
    result = invoke(["migrate", src.as_posix(), str(vault_location)])
    assert result.exit_code == 1, result.output
    assert f"has 1 log entry {REFUSED}" in result.stderr
    assert "migrate into an empty database" in result.stderr
