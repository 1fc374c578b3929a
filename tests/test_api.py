"""The public Python API: __all__ is complete, and docs/python-api.md's example runs."""

from __future__ import annotations

import re
from pathlib import Path

import vault

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"


def test_all_names_exist() -> None:
    for name in vault.__all__:
        assert hasattr(vault, name), name


def test_public_names_are_in_all() -> None:
    public = {
        n
        for n in vars(vault)
        if not n.startswith("_")
        and n != "annotations"
        and not isinstance(getattr(vault, n), type(vault))
    }
    assert public <= set(vault.__all__), public - set(vault.__all__)


def test_python_api_doc_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks
    exec(compile(blocks[0], str(DOC), "exec"), {})


def test_restore_text_is_logged_and_denied_without_grant(tmp_path: Path) -> None:
    from vault import AccessDenied, KdfParams, Vault
    from vault.models import JobContent

    fast = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
    with Vault.create(tmp_path / "v.db", user="alice", passphrase="pw-a", kdf=fast) as v:
        v.custodian.store_job(
            JobContent(
                job_id="job-1",
                status="archived",
                file_type="text",
                created_at=1.0,
                entity_count=1,
                content=b"Hi [PERSON_NAME_1]",
                mapping={"Ann Lee": "[PERSON_NAME_1]"},
                source="text",
            ),
            actor="test",
        )
        v.custodian.add_user("bob", passphrase="pw-b", kdf=fast, actor="alice")
        text, report = v.unlock("alice", "pw-a").restore_text("[PERSON_NAME_1]!", jobs=["job-1"])
        assert text == "Ann Lee!"
        bob = v.unlock("bob", "pw-b")
        before = len(v.log())
        try:
            bob.restore_text("[PERSON_NAME_1]", jobs=["job-1"])
        except AccessDenied:
            pass
        else:
            raise AssertionError("bob has no grant on job-1")
        assert len(v.log()) == before


def test_the_version_is_written_in_one_place() -> None:
    import importlib.metadata
    import tomllib

    project = tomllib.loads((DOC.parent.parent / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("questa-vault") == vault.__version__


def test_the_logged_actor_is_decided_in_one_place() -> None:
    """``actor=`` and ``RunOptions(actor=...)`` name the same thing: either fills the other,
    and two different names are refused rather than one silently dropped from the log."""
    import pytest

    from vault import InputError, RunOptions

    assert RunOptions().acting("alice").actor == "alice"
    assert RunOptions(actor="alice", timeout=5).acting(None).actor == "alice"
    assert RunOptions(actor="alice").acting("alice").actor == "alice"
    assert RunOptions().acting(None).actor == "api"
    with pytest.raises(InputError, match="differ"):
        RunOptions(actor="mallory").acting("alice")


def test_conflicting_actors_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    import pytest

    from vault import InputError, KdfParams, QuestaClient, RunOptions, Vault

    fast = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
    answer = tmp_path / "a.txt"
    answer.write_text("John Doe", encoding="utf-8")
    # Nothing listens on this address: a request would fail differently.
    client = QuestaClient("http://127.0.0.1:9")
    with Vault.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=fast) as v:
        before = v.log_head()
        both = {"actor": "alice", "options": RunOptions(actor="mallory")}
        with pytest.raises(InputError, match="differ"):
            v.submit(client, [answer], **both)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="differ"):
            v.fetch(client, ["job-1"], **both)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="differ"):
            v.sync(client, **both)  # type: ignore[arg-type]
        assert v.log_head() == before


def test_the_api_reads_times_and_statuses_as_the_cli_does(tmp_path: Path) -> None:
    """Vault.log took "30d" and compared it with numbers (nothing matched), and
    Vault.jobs(status="bogus") answered []: both now read or refuse like log/audit."""
    import time

    import pytest

    from vault import InputError, KdfParams, Vault
    from vault.audit import parse_when

    fast = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
    with Vault.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=fast) as v:
        everything = v.log()
        assert len(everything) == 2
        assert v.log(since="30d") == everything
        assert v.log(since=time.time() - 60) == everything
        assert v.log(until="2000-01-01") == []
        assert v.log(since="today", until="today") == everything
        for bad in ("soon", float("nan"), True, b"30d"):
            with pytest.raises(InputError):
                v.log(since=bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="earlier than"):
            v.log(since="today", until="yesterday")
        with pytest.raises(InputError, match="unknown status 'bogus'"):
            v.jobs(status="bogus")
        assert v.jobs(status="archived") == []
    assert abs(parse_when("0m") - time.time()) < 5  # ``now`` defaults to this moment


def test_no_control_character_enters_the_append_only_log(tmp_path: Path) -> None:
    import pytest

    from vault import InputError, KdfParams, Vault

    fast = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
    with Vault.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=fast) as v:
        before = v.log_head()
        for actor in ("evil\x1b]0;pwned\x07", "", "x" * 129, "tab\there"):
            with pytest.raises(InputError, match="printable"):
                v.add_public_user("bob", bytes(range(32)), actor=actor)
        assert v.log_head() == before
        assert [u.name for u in v.users()] == ["alice"]  # the whole write was rolled back
