"""A `--vault` that is not a vault file: one clear line per case, the same from every command,
exit 1, and nothing created or changed (a directory, a missing directory, a file in the way,
another file, an empty file, a device)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke

ENV = {"QUESTA_VAULT_PASSPHRASE": "correct horse battery staple"}
COMMANDS = [["jobs"], ["audit"], ["verify"], ["user", "list"], ["log"], ["backup", "BACKUP"]]


def _place(kind: str, tmp: Path) -> tuple[Path, str]:
    """(the --vault path, the expected message) for one kind of wrong place."""
    tmp.mkdir()
    if kind == "directory":
        (tmp / "vaults").mkdir()
        return tmp / "vaults", f"{tmp / 'vaults'} is a directory, not a vault file"
    if kind == "missing-directory":
        return tmp / "no" / "such" / "v.db", f"the directory {tmp / 'no' / 'such'} does not exist"
    if kind == "file-as-directory":
        (tmp / "plain").write_text("x", encoding="utf-8")
        return tmp / "plain" / "v.db", f"{tmp / 'plain'} is a file, not a directory"
    if kind == "text-file":
        (tmp / "notes.db").write_text("hello\n" * 100, encoding="utf-8")
        return tmp / "notes.db", f"{tmp / 'notes.db'} is damaged or not a questa-vault database"
    if kind == "empty-file":
        (tmp / "empty.db").touch()
        return tmp / "empty.db", f"{tmp / 'empty.db'} is not a questa-vault database"
    assert kind == "device"
    return Path("/dev/null"), "/dev/null is not a regular file, so not a vault"


KINDS = ["directory", "missing-directory", "file-as-directory", "text-file", "empty-file", "device"]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_says_one_clear_line(kind: str, command: list[str], tmp_path: Path) -> None:
    place, message = _place(kind, tmp_path / "w")
    before = _snapshot(tmp_path)
    argv = [str(tmp_path / "b.db") if a == "BACKUP" else a for a in command]
    result = invoke(["--vault", str(place), *argv], env=ENV)
    if command == ["verify"] and kind in ("text-file", "empty-file"):
        # A file that should be the vault and is not one is verify's worst finding.
        assert result.exit_code == 5 and "the vault does not verify: " in result.stderr
    else:
        assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "run questa-vault init" not in result.stderr or kind == "missing-directory"
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", KINDS)
def test_init_never_says_a_vault_exists_where_none_is(kind: str, tmp_path: Path) -> None:
    place, _ = _place(kind, tmp_path / "w")
    before = _snapshot(tmp_path)
    result = invoke(["--vault", str(place), "init", "--user", "a", *FAST_KDF], env=ENV)
    if kind == "missing-directory":  # init makes the directory (0700) and the vault
        assert result.exit_code == 0, result.output
        assert invoke(["--vault", str(place), "jobs"]).exit_code == 0
        return
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "a vault already exists" not in result.stderr
    expected = {
        "directory": "is a directory: give the path of the new vault file",
        "file-as-directory": "Not a directory",
    }.get(kind, "exists and is not a questa-vault database; refusing to overwrite it")
    assert expected in result.stderr
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("location", "scheme"),
    [
        ("postgresq://questa_admin@db.internal/questa", "postgresq"),
        ("postgres+psycopg://db.internal/questa", "postgres+psycopg"),
        ("sqlite:///vault.db", "sqlite"),
        ("http://db.internal/questa", "http"),
        ("postgresq:/questa", "postgresq"),  # the same typo after a path joined its slashes
    ],
)
def test_a_url_of_another_scheme_is_refused_not_made_a_local_vault(
    location: str, scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped scheme named a local file in a directory called after the scheme, and init
    made a SQLite vault there in silence (a fetch host could archive into it for months)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    expected = (
        f"questa-vault: the vault location starts with '{scheme}:/', which is not a vault: give "
        "a SQLite file path (e.g. ./vault.db) or a postgresql:// (or postgres://) URL\n"
    )
    for args in (["--vault", location, "init", "--user", "alice", *FAST_KDF], ["jobs"]):
        result = invoke(args, env={**ENV, "QUESTA_VAULT": location})
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == expected
    result = invoke(["config", "set", "vault", location])
    assert result.exit_code != 0
    assert "is not a vault" in result.stderr and result.stderr.count("\n") == 1
    assert list(work.iterdir()) == []
