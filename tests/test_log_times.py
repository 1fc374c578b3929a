"""An access-log entry's time: the library writes only a time every reader can print, and a
time that got in anyway (a client that skipped the check, a writer of the file) never stops
``log`` for everyone: it is shown as unknown."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import new_vault

from vault.custody import Custodian, _log
from vault.errors import InputError


@pytest.mark.parametrize("when", [1e300, math.inf, math.nan, -1.0, 253402300800.0])
def test_the_library_writes_no_time_a_reader_cannot_print(
    vault_location: Path | str, when: float
) -> None:
    with new_vault(vault_location) as kr:
        head = kr.verify_chain()
        with pytest.raises(InputError, match="from 1970 to 9999"), kr.db.write():
            _log.append(
                kr.db, vault_id=kr.vault_id, time=when, user="alice", action="export",
                job_id=None, counts={}, facts={},
            )  # fmt: skip
        assert kr.verify_chain() == head


def test_an_entry_with_a_time_out_of_range_does_not_break_log(
    vault_location: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's entry timed 1e300 (valid, chained, in the appender's own name): ``log``
    ended in an OverflowError for every user, for good, while ``verify`` said ok."""
    new_vault(vault_location).close()
    monkeypatch.setattr(_log, "LAST_LOG_TIME", math.inf)  # a client without the check
    with Custodian.open(vault_location) as kr, kr.db.write():
        for when in (1e300, 1e18):
            _log.append(
                kr.db, vault_id=kr.vault_id, time=when, user="alice", action="export",
                job_id=None, counts={}, facts={},
            )  # fmt: skip
    monkeypatch.undo()
    env = {"QUESTA_VAULT": str(vault_location)}
    for args in (["log"], ["log", "--json"], ["log", "--since", "2026-01-01"]):
        result = invoke(args, env=env)
        assert result.exit_code == 0, (args, result.output)
    # verify names each such entry (its hash is valid: only the time is out of range)
    checked = invoke(["verify"], env=env)
    assert checked.exit_code == 5, checked.output
    assert checked.stdout.count("has a time that is not a date from 1970 to 9999") == 2
    shown = invoke(["log"], env=env).stdout.splitlines()
    assert [line for line in shown if "export" in line and " - " in line], shown
