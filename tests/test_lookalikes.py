"""Look-alike placeholders: text a reader takes for a placeholder that is not one byte for byte
(full-width letters or underscore, a zero-width space, a bidi control, a combining mark inside).
Strict restore never restores them and never passes them silently: each is reported unresolved
(exit 3 through the CLI, file and pipe alike); no bracketed prose is reported by the rule."""

from __future__ import annotations

import re

import pytest
from conftest import invoke
from test_lenient import prose_corpus
from test_office_cli import ENV, JOB, vault  # noqa: F401 (the fixture)

from vault.placeholders import invert_map
from vault.placeholders._matcher import SHAPE, _plain
from vault.restore import RestoreOptions, restore_bytes

RESOLVER = invert_map({"Ann Smith": "[PERSON_NAME_1]"}, "job-1")
LOOKALIKES = [
    "[PERSON\u200b_NAME_1]",  # zero-width space
    "[PERSON_NAME_1\u200d]",  # zero-width joiner
    "[\ufeffPERSON_NAME_1]",  # BOM / zero-width no-break space
    "[ＰＥＲＳＯＮ_ＮＡＭＥ_１]",  # full-width letters and digit
    "[PERSON＿NAME＿1]",  # full-width underscore
    "[PERSON_NAME_\u202e1]",  # right-to-left override
    "[\u2066PERSON_NAME_1\u2069]",  # isolate
    "[PERSON\u00ad_NAME_1]",  # soft hyphen
    "[PERSON_NAME_1\u0301]",  # combining mark (lenient repairs this one: the hint)
    "[PERSON_NAME_\U0001d7cf]",  # mathematical bold digit one
]


@pytest.mark.parametrize("token", LOOKALIKES, ids=[ascii(t) for t in LOOKALIKES])
def test_strict_reports_a_lookalike_and_leaves_it(token: str) -> None:
    text = f"Dear {token}, and [PERSON_NAME_1].\n"
    out, report = restore_bytes(text.encode(), RESOLVER, RestoreOptions(name="a.txt"))
    assert out.decode() == f"Dear {token}, and Ann Smith.\n"
    # the whole token, or (when lenient repairs a bare placeholder inside it: "mangled", with
    # the --lenient hint) that part of it
    assert len(report.unresolved) == 1 and report.unresolved[0].placeholder in token
    assert report.unresolved[0].reason in ("unknown", "mangled")


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize("how", ["file", "pipe"])
def test_the_cli_exits_3_for_a_lookalike(tmp_path, how: str) -> None:  # type: ignore[no-untyped-def]
    text = "Dear [PERSON\u200b_NAME_1] and [ＰＥＲＳＯＮ_ＮＡＭＥ_1].\n"
    out = tmp_path / "out.txt"
    if how == "file":
        src = tmp_path / "a.txt"
        src.write_text(text, encoding="utf-8")
        result = invoke(["restore", str(src), "-j", JOB, "-o", str(out)], env=ENV)
    else:
        result = invoke(["restore", "-", "-j", JOB, "-o", str(out)], env=ENV, input=text)
    assert result.exit_code == 3, result.output
    assert "2 left unresolved" in result.stderr
    assert out.read_text(encoding="utf-8") == text


def test_no_bracketed_prose_is_taken_for_a_lookalike() -> None:
    """The rule only fires for non-ASCII bracketed text that reads as a placeholder."""
    fired = []
    for name, text in prose_corpus():
        for token in re.findall(r"\[[^\[\]\n]{1,100}\]", text):
            if not token.isascii() and SHAPE.fullmatch(_plain(token)):
                fired.append((name, token))
    assert fired == []
