"""A release goes on only if the access log took its entry exactly as written: a trigger or
rule added by someone who can change the schema, which swallows or rewrites the entry of a
release, stops the release (nothing written) instead of letting it go on unlogged."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, raw_db, sample_job

from vault.custody import Custodian

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}

SQLITE = {
    "entry swallowed": "CREATE TRIGGER zz BEFORE INSERT ON access_log WHEN NEW.action = 'export' "
    "BEGIN SELECT RAISE(IGNORE); END",
}
POSTGRES = {
    "entry swallowed": [
        "CREATE FUNCTION public.quiet() RETURNS trigger LANGUAGE plpgsql AS "
        "$q$ BEGIN IF NEW.action = 'export' THEN RETURN NULL; END IF; RETURN NEW; END $q$",
        "CREATE TRIGGER zz BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION quiet()",
    ],
    "entry rewritten": [
        "CREATE FUNCTION public.quiet() RETURNS trigger LANGUAGE plpgsql AS "
        "$q$ BEGIN IF NEW.action = 'export' THEN NEW.action := 'show'; END IF; "
        "RETURN NEW; END $q$",
        "CREATE TRIGGER zz BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION quiet()",
    ],
    "rule instead": [
        "CREATE RULE quiet AS ON INSERT TO access_log WHERE NEW.action = 'export' "
        "DO INSTEAD NOTHING",
    ],
}


def _cases() -> list[tuple[str, str, list[str]]]:
    return [("sqlite", name, [sql]) for name, sql in SQLITE.items()] + [
        ("postgresql", name, sql) for name, sql in POSTGRES.items()
    ]


@pytest.mark.parametrize(
    "vault_location, sql",
    [pytest.param(b, s, id=f"{b}-{n}") for b, n, s in _cases()],
    indirect=["vault_location"],
)
def test_a_release_whose_entry_is_not_recorded_is_refused(
    vault_location: Path | str, sql: list[str], tmp_path: Path
) -> None:
    with new_vault(vault_location) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
        head = kr.log_head()
    with raw_db(vault_location) as db:
        for statement in sql:
            db.execute(statement)
    out = tmp_path / "out.csv"
    args = ["--vault", str(vault_location), "--user", "alice", "export", "job-0", "-o", str(out)]
    result = invoke(args, env=ENV)
    assert result.exit_code in (1, 5), result.output
    assert not out.exists()
    assert result.stderr.count("\n") == 1
    with Custodian.open(vault_location) as kr:
        assert kr.log_head() == head
