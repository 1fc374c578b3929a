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
