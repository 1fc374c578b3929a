"""JSON: a placeholder restored in an object key may make two keys of one object equal
(review-attack6 B7: ``{"[PERSON_NAME_1]": 1, "Ann Smith": 2}`` became two "Ann Smith" keys, and
a JSON reader keeps only one value). Decided: the output is written as restored and the report
warns (stderr, the report's ``warnings``) whenever a key was restored, strict and lenient; a
restore that restores no key has no warning. docs/restore.md, JSON section."""

from __future__ import annotations

import json

import pytest
from conftest import invoke
from hypothesis import given
from hypothesis import strategies as st
from test_office_cli import ENV, JOB, vault  # noqa: F401 (the fixture)

from vault.placeholders import invert_map
from vault.restore import RestoreOptions, restore_bytes

RESOLVER = invert_map({"Ann Smith": "[PERSON_NAME_1]", "Bob": "[PERSON_NAME_2]"}, "job-1")


def _restore(text: str, lenient: bool = False) -> tuple[str, tuple[str, ...]]:
    out, report = restore_bytes(
        text.encode(), RESOLVER, RestoreOptions(name="a.json", lenient=lenient)
    )
    return out.decode(), report.warnings


_KEYS = st.sampled_from(["[PERSON_NAME_1]", "[PERSON_NAME_2]", "Ann Smith", "Bob", "x"])


@given(st.lists(st.tuples(_KEYS, st.integers(0, 9)), min_size=1, max_size=5), st.booleans())
def test_a_restored_key_that_duplicates_another_is_never_silent(
    pairs: list[tuple[str, int]], lenient: bool
) -> None:
    text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}"
    out, warnings = _restore(text, lenient)
    keys: list[str] = []
    json.loads(out, object_pairs_hook=lambda items: keys.extend(k for k, _ in items))
    if len(set(keys)) < len(keys) and len({k for k, _ in pairs}) == len(pairs):
        assert any("JSON object keys" in w for w in warnings), (text, out)


def test_no_warning_when_only_values_are_restored() -> None:
    out, warnings = _restore('{"a": "[PERSON_NAME_1]", "b": ["[PERSON_NAME_1]" , 1]}')
    assert out == '{"a": "Ann Smith", "b": ["Ann Smith" , 1]}'
    assert warnings == ()


@pytest.mark.usefixtures("vault")
def test_the_cli_warns_on_stderr(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "a.json"
    src.write_text('{"[PERSON_NAME_1]": 1, "x": 2}\n', encoding="utf-8")
    out = tmp_path / "out.json"
    result = invoke(["restore", str(src), "-j", JOB, "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "restored in JSON object keys" in result.stderr
