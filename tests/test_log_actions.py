"""The access log's actions: one list (`vault.models.LOG_ACTIONS`), offered by `log --action`,
refused elsewhere with the list, and enforced where entries are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import new_vault, sample_job

from vault.errors import InputError
from vault.models import LOG_ACTIONS


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job("job-1"), actor="alice")
        custodian.record("alice", "backup", None, {"bytes": 1})
    return isolated_env


@pytest.mark.parametrize("action", LOG_ACTIONS)
def test_every_known_action_is_accepted(vault: Path, action: str) -> None:
    result = invoke(["log", "--action", action, "--json"])
    assert result.exit_code == 0, result.output
    assert {e["action"] for e in json.loads(result.stdout)} <= {action}


@pytest.mark.parametrize("action", ["fetchh", "Restore", "", "restore ", "all", "*", "audit"])
def test_an_unknown_action_is_one_line_naming_the_known_ones(vault: Path, action: str) -> None:
    result = invoke(["log", "--action", action])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert all(known in result.stderr for known in LOG_ACTIONS)


def test_the_demo_vault_logs_only_known_actions(vault: Path) -> None:
    entries = json.loads(invoke(["log", "--json"]).stdout)
    assert entries and {e["action"] for e in entries} <= set(LOG_ACTIONS)


def test_an_unknown_action_is_never_written(vault: Path) -> None:
    from vault.custody import Custodian

    with Custodian.open(vault) as custodian:
        head = custodian.log_head()
        with pytest.raises(InputError, match="unknown access-log action 'restored'"):
            custodian.record("alice", "restored", "job-1", {})
        assert custodian.log_head() == head
