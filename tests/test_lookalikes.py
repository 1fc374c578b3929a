"""Look-alike placeholders: text a reader takes for a placeholder that is not one byte for byte
(full-width letters or underscore, a zero-width space, a bidi control, a combining mark inside).
Strict restore never restores them and never passes them silently: each is reported unresolved
(exit 3 through the CLI, file and pipe alike); no bracketed prose is reported by the rule."""

from __future__ import annotations

import re

import pytest
from conftest import invoke
from hypothesis import given
from hypothesis import strategies as st
from test_lenient import prose_corpus, texts_and_maps
from test_office_cli import ENV, JOB, vault  # noqa: F401 (the fixture)

from vault.placeholders import Matcher, invert_map
from vault.placeholders._confusables import SOURCES, TARGETS
from vault.placeholders._matcher import SHAPE, _plain
from vault.placeholders._tokens import LOOKALIKE_CLOSING, LOOKALIKE_OPENING
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
    # review-attack6 B2: a skeleton of the whole token, brackets included (UTS #39 confusables)
    "［ＰＥＲＳＯＮ＿ＮＡＭＥ＿１］",  # every character full-width, the brackets too (CJK text)
    "【ＰＥＲＳＯＮ＿ＮＡＭＥ＿１】",  # lenticular brackets around full-width text
    "[P\u0415RS\u041eN_N\u0410ME_1]",  # Cyrillic capitals that look Latin
    "[\u0420\u0395R\u0405\u039fN_N\u0391\u041c\u0395_1]",  # Cyrillic and Greek capitals
    "［P\u0415RS\u041eN_N\u0410ME_1］",  # Cyrillic in full-width brackets
    "[\u1d18\u1d07\u0280s\u1d0f\u0274_\u0274\u1d00\u1d0d\u1d07_1]",  # Latin small capitals
    "[PERSON_NAME_\u20dd1]",  # enclosing combining mark (Me)
    "[PERSON\u2028NAME_1]",  # line separator inside
    "[PERSON\u2017NAME\u20171]",  # double low line for the underscores
    "[PERSON\u02cdNAME\u02cd1]",  # modifier letter low macron for the underscores
    "[PERSON_NAME_\u0661]",  # Arabic-Indic digit one
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


# docs/restore.md: lenient repairs a look-alike whose folded form is exactly a placeholder of
# the map when folding is safe (compatibility forms, invisible format characters); a bidi
# control or a combining mark (what the reader sees is not the placeholder) is only reported.
LENIENT = {
    "[PERSON\u200b_NAME_1]": True,
    "[PERSON_NAME_1\u200d]": True,
    "[\ufeffPERSON_NAME_1]": True,
    "[ＰＥＲＳＯＮ_ＮＡＭＥ_１]": True,
    "[PERSON＿NAME＿1]": True,
    "[PERSON_NAME_\u202e1]": False,
    "[\u2066PERSON_NAME_1\u2069]": False,
    "[PERSON\u00ad_NAME_1]": True,
    "[PERSON_NAME_1\u0301]": False,
    "[PERSON_NAME_\U0001d7cf]": True,
    "［ＰＥＲＳＯＮ＿ＮＡＭＥ＿１］": True,  # NFKC: as the full-width forms inside ASCII brackets
    "【ＰＥＲＳＯＮ＿ＮＡＭＥ＿１】": False,  # other brackets around look-alikes: reported
    "[P\u0415RS\u041eN_N\u0410ME_1]": False,  # another script is another letter: reported
    "[\u0420\u0395R\u0405\u039fN_N\u0391\u041c\u0395_1]": False,
    "［P\u0415RS\u041eN_N\u0410ME_1］": False,
    "[\u1d18\u1d07\u0280s\u1d0f\u0274_\u0274\u1d00\u1d0d\u1d07_1]": False,
    "[PERSON_NAME_\u20dd1]": False,
    "[PERSON\u2028NAME_1]": False,
    "[PERSON\u2017NAME\u20171]": False,
    "[PERSON\u02cdNAME\u02cd1]": False,
    "[PERSON_NAME_\u0661]": False,
}


@pytest.mark.parametrize("token", LOOKALIKES, ids=[ascii(t) for t in LOOKALIKES])
def test_lenient_repairs_a_safe_lookalike_and_reports_the_others(token: str) -> None:
    text = f"Dear {token}, and [PERSON_NAME_1].\n"
    options = RestoreOptions(name="a.txt", lenient=True)
    out, report = restore_bytes(text.encode(), RESOLVER, options)
    if LENIENT[token]:
        assert out.decode() == "Dear Ann Smith, and Ann Smith.\n"
        assert report.repaired == 1 and not report.unresolved
    else:
        assert out.decode() == f"Dear {token}, and Ann Smith.\n"
        assert report.repaired == 0
        assert [(u.placeholder, u.line, u.column, u.reason) for u in report.unresolved] == [
            (token, 1, 6, "unknown")
        ]


def test_a_lookalike_of_a_lenient_form_or_an_unknown_number_is_reported_by_lenient() -> None:
    # the folded form must be exactly a placeholder of the map to be repaired
    for token in ["[ｐｅｒｓｏｎ_ｎａｍｅ_1]", "[PERSON\u200b_NAME_9]"]:
        out, report = restore_bytes(
            f"{token}\n".encode(), RESOLVER, RestoreOptions(name="a.txt", lenient=True)
        )
        assert out.decode() == f"{token}\n"
        assert [(u.placeholder, u.reason) for u in report.unresolved] == [(token, "unknown")]


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


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize("how", ["file", "pipe"])
def test_the_cli_lenient_repairs_the_safe_lookalike_and_exits_3_for_the_other(
    tmp_path, how: str
) -> None:  # type: ignore[no-untyped-def]
    text = "Dear [ＰＥＲＳＯＮ_ＮＡＭＥ_1] and [PERSON_NAME_\u202e1].\n"
    out = tmp_path / "out.txt"
    args = ["-j", JOB, "-o", str(out), "--lenient"]
    if how == "file":
        src = tmp_path / "a.txt"
        src.write_text(text, encoding="utf-8")
        result = invoke(["restore", str(src), *args], env=ENV)
    else:
        result = invoke(["restore", "-", *args], env=ENV, input=text)
    assert result.exit_code == 3, result.output
    assert "1 left unresolved: [PERSON_NAME_\\u202e1] at 1:26" in result.stderr
    restored = out.read_text(encoding="utf-8")
    assert restored.startswith("Dear ") and "ＰＥＲＳＯＮ" not in restored
    assert restored.endswith(" and [PERSON_NAME_\u202e1].\n")


def test_no_bracketed_prose_is_taken_for_a_lookalike() -> None:
    """The rule only fires for non-ASCII bracketed text that reads as a placeholder."""
    fired = []
    brackets = re.escape("[]" + LOOKALIKE_OPENING + LOOKALIKE_CLOSING)
    bracketed = rf"[\[{LOOKALIKE_OPENING}][^{brackets}\n]{{1,100}}[\]{LOOKALIKE_CLOSING}]"
    for name, text in prose_corpus():
        for token in re.findall(bracketed, text):
            if not token.isascii() and SHAPE.fullmatch(_plain(token)):
                fired.append((name, token))
    assert fired == []


@given(texts_and_maps())
def test_lenient_repairs_or_reports_every_token_strict_reports(
    case: tuple[str, dict[str, str]],
) -> None:
    """Lenient never reports less than strict: each token strict leaves unresolved (look-alikes
    among them, see ``lookalikes_of``) lenient repairs or reports, at the same place."""
    text, mapping = case
    resolver = invert_map(mapping, "job")
    strict, lenient = Matcher(resolver), Matcher(resolver, lenient=True)
    strict.sub(text)
    lenient.sub(text)
    flagged = {(offset, offset + len(token)) for token, offset, _ in strict.tally.unresolved}
    covered = {(offset, offset + len(token)) for token, offset, _ in lenient.tally.unresolved}
    covered.update(lenient.tally.repaired_at)
    assert flagged <= covered


# Every look-alike of a placeholder character (the table's, by the character it reads as) and
# characters a reader does not see or that do not change what a character reads as.
_ALIKE: dict[str, list[str]] = {}
for _source, _target in zip(SOURCES, TARGETS, strict=True):
    _ALIKE.setdefault(_target, []).append(_source)
_INVISIBLE = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u2060", "\u2028", "\u2029", "\u20dd"]
_FORMATS = ["txt", "csv", "json", "md"]


@st.composite
def _disguised(draw: st.DrawFn) -> str:
    """``[PERSON_NAME_1]`` with some characters swapped for look-alikes and invisible
    characters put in; never the placeholder itself."""
    chars = []
    for c in "[PERSON_NAME_1]":
        swap = _ALIKE.get(c, []) + _ALIKE.get(c.lower(), [])
        if swap and draw(st.booleans()):
            c = draw(st.sampled_from(swap))
        chars.append(c)
        if c not in "[]" and draw(st.integers(0, 5)) == 0:
            chars.append(draw(st.sampled_from(_INVISIBLE)))
    token = "".join(chars)
    if token.isascii():
        token = "［" + token[1:-1] + "］"
    return token


def _in_format(token: str, fmt: str) -> str:
    if fmt == "csv":
        return f"name,note\n{token},x\n"
    if fmt == "json":
        return '{"note": "Dear ' + token + '"}\n'
    if fmt == "md":
        return f"# Letter\n\n- Dear **{token}**, ok.\n"
    return f"Dear {token}, ok.\n"


@given(_disguised(), st.sampled_from(_FORMATS), st.booleans())
def test_every_disguised_placeholder_is_restored_or_reported(
    token: str, fmt: str, lenient: bool
) -> None:
    """The class of review-attack6 B2: whatever mix of look-alike and invisible characters a
    placeholder is written with (brackets too), strict reports it (never restores it) and
    lenient repairs it or reports it; nothing passes silently, in text, CSV, JSON, Markdown."""
    text = _in_format(token, fmt)
    options = RestoreOptions(name=f"a.{fmt}", lenient=lenient)
    out, report = restore_bytes(text.encode(), RESOLVER, options)
    restored = "Ann Smith" in out.decode()
    assert restored or report.unresolved, ascii(token)
    if not lenient:
        assert not restored and report.unresolved, ascii(token)
    if restored:
        assert lenient and report.repaired == 1
