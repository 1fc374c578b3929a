"""The placeholder matcher: inversion, map problems, strict and lenient matching, merging."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import InputError, PlaceholderCollision
from vault.placeholders import (
    Matcher,
    Resolver,
    invert_map,
    line_column,
    merge_resolvers,
    placeholder_type,
)

MAP = {
    "John Doe": "[PERSON_NAME_1]",
    "Jane Roe": "[PERSON_NAME_10]",
    "jane@example.com": "[EMAIL_ADDRESS_2]",
    "Phoenix project": "[Project X_3]",  # custom label with a space and lower case
    "Zoë Ångström": "[PERSON_NAME_4]",
}


def restore(text: str, mapping=MAP, *, lenient: bool = False) -> tuple[str, Matcher]:
    matcher = Matcher(invert_map(mapping, "job-a"), lenient=lenient)
    return matcher.sub(text), matcher


# -- strict -------------------------------------------------------------------------------------

STRICT = [
    ("plain", "Dear [PERSON_NAME_1],", "Dear John Doe,"),
    ("prefix _1 vs _10", "[PERSON_NAME_10] and [PERSON_NAME_1]", "Jane Roe and John Doe"),
    ("adjacent", "[PERSON_NAME_1][EMAIL_ADDRESS_2]", "John Doejane@example.com"),
    ("nested brackets", "[[PERSON_NAME_1]]", "[John Doe]"),
    ("custom label", "about [Project X_3].", "about Phoenix project."),
    ("unicode original", "Hallo [PERSON_NAME_4]!", "Hallo Zoë Ångström!"),
    ("lower case is not exact", "[person_name_1]", "[person_name_1]"),
    ("no brackets is not exact", "PERSON_NAME_1", "PERSON_NAME_1"),
    ("spaces are not exact", "[PERSON NAME 1]", "[PERSON NAME 1]"),
    ("invented bracket text", "[Your Name] chose [option1]", "[Your Name] chose [option1]"),
    ("markdown link", "[see here](http://x) [ ]", "[see here](http://x) [ ]"),
    ("hallucinated number", "[PERSON_NAME_99]", "[PERSON_NAME_99]"),
    ("split by newline", "[PERSON_\nNAME_1]", "[PERSON_\nNAME_1]"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("case", "text", "expected"), STRICT, ids=[c[0] for c in STRICT])
def test_strict_matching(case: str, text: str, expected: str) -> None:
    assert restore(text)[0] == expected


HAZARDS = {
    r"a\1b": "[SECRET_1]",  # a regex back-reference
    r"\g<0>x": "[SECRET_2]",  # a regex group reference
    "$1 $& .* (x|y) [a-z]+ ^$": "[SECRET_3]",  # regex metacharacters
    "C:\\Users\\new\\table": "[SECRET_4]",  # backslashes, \n and \t as text
    "see [SECRET_1] here": "[SECRET_5]",  # an original holding another placeholder
    "Bob": "[PERSON_NAME_6]",
}


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[SECRET_1]", r"a\1b"),
        ("[SECRET_2]", r"\g<0>x"),
        ("[SECRET_3]", "$1 $& .* (x|y) [a-z]+ ^$"),
        ("[SECRET_4]", "C:\\Users\\new\\table"),
        ("[SECRET_5] [PERSON_NAME_6]", "see [SECRET_1] here Bob"),  # never rescanned
    ],
)
def test_originals_come_back_byte_for_byte(text: str, expected: str, lenient: bool) -> None:
    out, matcher = restore(text, HAZARDS, lenient=lenient)
    assert out == expected
    assert matcher.tally.unresolved_count == 0


def test_chained_value_is_reported_as_map_problem_and_not_rescanned() -> None:
    resolver = invert_map(HAZARDS, "job-h")
    kinds = {p.kind: p.placeholders for p in resolver.problems}
    assert kinds == {"looks-like-placeholder": ("[SECRET_5]",)}
    assert "see [SECRET_1]" not in resolver.problems[0].describe()


# -- unknown placeholders and their positions ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("[PERSON_NAME_99]", [("[PERSON_NAME_99]", 0)]),
        ("ok [PERSON_NAME_1]\nthen [FOO_BAR_7] x", [("[FOO_BAR_7]", 24)]),
        ("[person_name_1] is mangled", [("[person_name_1]", 0)]),
        ("[Project X_9]", [("[Project X_9]", 0)]),  # a known custom label, unknown number
        ("[Your Name] [option1] [a b_c]", []),
        ("[see note_2]", []),  # not the shape and not a known label
    ],
)
def test_unknown_placeholders_are_reported_with_offsets(
    text: str, unknown: list[tuple[str, int]]
) -> None:
    out, matcher = restore(text)
    assert out == text or "[PERSON_NAME_1]" in text
    assert [(t, o) for t, o, _ in matcher.tally.unresolved] == unknown
    assert matcher.tally.unresolved_count == len(unknown)


def test_line_column() -> None:
    text = "ab\ncd [X_1]"
    assert line_column(text, text.index("[")) == (2, 4)
    assert line_column("[X_1]", 0) == (1, 1)


# -- lenient ------------------------------------------------------------------------------------

LENIENT = [
    ("exact still exact", "[PERSON_NAME_1]", "John Doe", 0),
    ("lower case", "[person_name_1]", "John Doe", 1),
    ("title case", "[Person_Name_10]", "Jane Roe", 1),
    ("no brackets", "hi PERSON_NAME_1.", "hi John Doe.", 1),
    ("no brackets, prefix", "PERSON_NAME_10 and PERSON_NAME_1", "Jane Roe and John Doe", 2),
    ("spaces", "[PERSON NAME 1]", "John Doe", 1),
    ("markdown escapes", r"\[PERSON\_NAME\_1\]", "John Doe", 1),
    ("markdown underscores only", r"PERSON\_NAME\_10", "Jane Roe", 1),
    ("full-width brackets", "［PERSON_NAME_1］", "John Doe", 1),
    ("one bracket missing: the bracket stays", "[PERSON_NAME_1 said", "[John Doe said", 1),
    ("custom label, other case", "[project x_3]", "Phoenix project", 1),
    ("custom label, underscore", "PROJECT_X_3", "Phoenix project", 1),
    ("inside other brackets", "[the PERSON_NAME_1]", "[the John Doe]", 1),
    ("unicode original", "person_name_4", "Zoë Ångström", 1),
]


@pytest.mark.parametrize(
    ("case", "text", "expected", "repaired"), LENIENT, ids=[c[0] for c in LENIENT]
)
def test_lenient_repairs(case: str, text: str, expected: str, repaired: int) -> None:
    out, matcher = restore(text, lenient=True)
    assert out == expected
    assert matcher.tally.repaired == repaired


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("PERSON_NAME_100", ["PERSON_NAME_100"]),  # whole number: _1 and _10 never match
        ("[PERSON NAME 99]", ["[PERSON NAME 99]"]),
        ("XPERSON_NAME_1 PERSON_NAMES_1", []),  # glued word characters: no match
        ("PERSON_NAME_1234", ["PERSON_NAME_1234"]),
        ("[Your Name] [option1]", []),
        ("person name 7", []),  # spaced prose with an unknown number is left silently
        ("to Person Name 10,", []),  # without brackets a token needs "_" before its number
    ],
)
def test_lenient_whole_numbers_and_unknowns(text: str, unknown: list[str]) -> None:
    out, matcher = restore(text, lenient=True)
    assert out == text
    assert [t for t, _, _ in matcher.tally.unresolved] == unknown


def test_lenient_does_not_repair_placeholders_that_differ_only_in_case() -> None:
    mapping = {"Alpha": "[Project_1]", "Beta": "[PROJECT_1]"}
    matcher = Matcher(invert_map(mapping, "j"), lenient=True)
    assert matcher.sub("[Project_1] [PROJECT_1] [project_1]") == "Alpha Beta [project_1]"
    assert [p.kind for p in matcher.problems] == ["lenient-ambiguous"]
    assert matcher.tally.unresolved[0][0] == "[project_1]"


def test_lenient_regex_metacharacters_in_labels() -> None:
    mapping = {"x": "[A.B*C_1]", "y": "[(GROUP)_2]"}
    matcher = Matcher(invert_map(mapping, "j"), lenient=True)
    assert matcher.sub("[a.b*c_1] AXB*C_1 [(group)_2]") == "x AXB*C_1 y"


# -- map problems ---------------------------------------------------------------------------------


def test_two_originals_on_one_placeholder_are_not_restored() -> None:
    resolver = invert_map({"Kate": "[PERSON_NAME_1]", "David": "[PERSON_NAME_1]"}, "job-x")
    assert resolver.ambiguous == {"[PERSON_NAME_1]"}
    assert resolver.problems[0].kind == "ambiguous"
    message = resolver.problems[0].describe()
    assert "Kate" not in message and "David" not in message and "job-x" in message
    matcher = Matcher(resolver)
    assert matcher.sub("hi [PERSON_NAME_1]") == "hi [PERSON_NAME_1]"
    assert matcher.tally.unresolved == [("[PERSON_NAME_1]", 3, "ambiguous")]


def test_unmatchable_placeholders_are_reported() -> None:
    resolver = invert_map({"a": "NO_BRACKETS_1", "b": "[A]B_2]", "c": "[OK_3]"}, "j")
    assert resolver.problems[0].kind == "unmatchable"
    assert resolver.problems[0].placeholders == ("NO_BRACKETS_1", "[A]B_2]")
    assert dict(resolver.originals) == {"[OK_3]": "c"}


_PIECES = st.sampled_from(["[", "]", "\n", "_", "1", "42", "A", "PERSON", " ", "é", ""])


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.lists(_PIECES, max_size=5).map("".join),
            st.one_of(
                st.builds(
                    lambda label, n: f"[{label}_{n}]", st.sampled_from("AB"), st.integers(1, 4)
                ),
                st.lists(_PIECES, max_size=5).map("".join),
            ),
        ),
        max_size=8,
    )
)
def test_invert_map_fast_path_equals_the_entry_by_entry_inversion(
    pairs: list[tuple[str, str]],
) -> None:
    """The C-level common case gives the resolver the entry-by-entry inversion gives:
    originals in the same order, the same ambiguous set and problems."""
    from vault.placeholders._resolver import _invert_slowly

    mapping = dict(pairs)
    fast, slow = invert_map(mapping, "j"), _invert_slowly(mapping, "j")
    assert list(fast.originals.items()) == list(slow.originals.items())
    assert (fast.ambiguous, fast.problems, fast.job_ids) == (
        slow.ambiguous,
        slow.problems,
        slow.job_ids,
    )
    assert fast.placeholder_of == slow.placeholder_of
    assert fast.longest == slow.longest


@settings(max_examples=500)
@given(
    st.lists(
        st.lists(st.sampled_from(["[", "]", "\n", "A", "1", "[A_1]"]), max_size=5).map("".join),
        max_size=5,
        unique=True,
    )
)
def test_all_matchable_counts_agree_with_the_check_one_by_one(placeholders: list[str]) -> None:
    """The counts over the joined placeholders say what ``_matchable`` says of each."""
    from vault.placeholders._resolver import _all_matchable, _matchable

    mapping = dict.fromkeys(placeholders, "x")
    assert _all_matchable(mapping) == all(map(_matchable, mapping))


def test_regression_placeholder_of_is_none_when_two_placeholders_share_an_original() -> None:
    resolver = Resolver({"[A_1]": "x", "[A_2]": "x"}, ("j",))
    assert resolver.placeholder_of is None and not resolver.unique_originals
    assert invert_map({"x": "[A_1]", "y": "[A_2]"}, "j").placeholder_of == {
        "x": "[A_1]",
        "y": "[A_2]",
    }


def test_placeholder_type() -> None:
    assert placeholder_type("[PERSON_NAME_1]") == "PERSON_NAME"
    assert placeholder_type("[Project X_3]") == "Project X"
    assert placeholder_type("[ODD]") == "ODD"


# -- several jobs ---------------------------------------------------------------------------------

JOB_A = {"Alice": "[PERSON_NAME_1]", "Acme": "[ORGANIZATION_2]", "same": "[DATE_3]"}
JOB_B = {"Bob": "[PERSON_NAME_1]", "Bolt": "[ORGANIZATION_2]", "same": "[DATE_3]", "x": "[Y_4]"}


def test_collision_names_the_placeholders_never_the_values() -> None:
    with pytest.raises(PlaceholderCollision) as info:
        merge_resolvers([invert_map(JOB_A, "A"), invert_map(JOB_B, "B")])
    message = str(info.value)
    assert "[PERSON_NAME_1]" in message and "[ORGANIZATION_2]" in message
    assert "[DATE_3]" not in message  # same original in both jobs: no collision
    assert "--prefer" in message
    for value in ("Alice", "Bob", "Acme", "Bolt"):
        assert value not in message


@pytest.mark.parametrize(("prefer", "expected"), [("A", "Alice Acme x"), ("B", "Bob Bolt x")])
def test_prefer_picks_the_winner(prefer: str, expected: str) -> None:
    resolver = merge_resolvers([invert_map(JOB_A, "A"), invert_map(JOB_B, "B")], prefer=prefer)
    assert resolver.job_ids == ("A", "B")
    assert Matcher(resolver).sub("[PERSON_NAME_1] [ORGANIZATION_2] [Y_4]") == expected


def test_prefer_must_be_one_of_the_jobs() -> None:
    with pytest.raises(InputError, match="--prefer C: not one of the jobs"):
        merge_resolvers([invert_map(JOB_A, "A"), invert_map(JOB_B, "B")], prefer="C")


def test_disjoint_jobs_merge() -> None:
    resolver = merge_resolvers([invert_map({"a": "[X_1]"}, "A"), invert_map({"b": "[X_2]"}, "B")])
    assert Matcher(resolver).sub("[X_2][X_1]") == "ba"


# -- streaming spans ----------------------------------------------------------------------------


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_restore_span_finds_placeholders_split_anywhere(lenient: bool, step: int) -> None:
    text = "x[PERSON_NAME_1]y [PERSON_NAME_10][EMAIL_ADDRESS_2] [PERSON_NAME_99] " * 3
    whole, reference = restore(text, lenient=lenient)
    matcher = Matcher(invert_map(MAP, "job-a"), lenient=lenient)
    out: list[str] = []
    buffer, start, base = "", 0, 0
    for i in range(0, len(text) + 1, step):
        piece = text[i : i + step]
        final = i + step >= len(text)
        buffer += piece
        chunk, end = matcher.restore_span(buffer, start, final, base)
        out.append(chunk)
        keep = max(end - 1, 0)
        buffer, base, start = buffer[keep:], base + keep, end - keep
        if final:
            break
    assert "".join(out) == whole
    assert matcher.tally.unresolved == reference.tally.unresolved


# -- the property: restore(anonymize(x)) == x ---------------------------------------------------

LABELS = st.sampled_from(["PERSON_NAME", "EMAIL_ADDRESS", "Project", "städte", "A B"])


def anonymize(parts: list[tuple[bool, str]], labels: list[str]) -> tuple[str, dict[str, str]]:
    """A small local anonymizer with the service's numbering: one counter, repeats reuse."""
    mapping: dict[str, str] = {}
    out = []
    for i, (secret, text) in enumerate(parts):
        if secret:
            if text not in mapping:
                mapping[text] = f"[{labels[i % len(labels)]}_{len(mapping) + 1}]"
            out.append(mapping[text])
        else:
            out.append(text)
    return "".join(out), mapping


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.tuples(st.booleans(), st.text(max_size=15)), max_size=25),
    labels=st.lists(LABELS, min_size=1, max_size=4),
    lenient=st.booleans(),
)
def test_restore_of_anonymize_is_identity(
    parts: list[tuple[bool, str]], labels: list[str], lenient: bool
) -> None:
    # Plain text holds no placeholder shape of its own (and, for lenient, no label letters),
    # so what comes back must be exact.
    drop = r"[\[\]［］\\_\w]" if lenient else r"[\[\]［］\\_]"
    parts = [(secret, text if secret else re.sub(drop, "", text)) for secret, text in parts]
    original = "".join(t for _, t in parts)
    anonymized, mapping = anonymize(parts, labels)
    resolver: Resolver = invert_map(mapping, "job")
    # links=False: a job's own file is restored without the Markdown link rule
    matcher = Matcher(resolver, lenient=lenient, links=False)
    assert matcher.sub(anonymized) == original
    assert matcher.tally.unresolved_count == 0
    assert matcher.tally.repaired == 0


def test_regression_link_rule_off_for_a_jobs_own_file() -> None:
    # found by test_restore_of_anonymize_is_identity: an original "" before "(" came back
    # as "[](" once the Markdown link rule applied to a job's own file
    matcher = Matcher(invert_map({"": "[PERSON_NAME_1]"}, "job"), links=False)
    assert matcher.sub("[PERSON_NAME_1](/x)") == "(/x)"
    assert Matcher(invert_map({"": "[PERSON_NAME_1]"}, "job")).sub("[PERSON_NAME_1](2020)") == (
        "(2020)"
    )


@settings(max_examples=100, deadline=None)
@given(originals=st.lists(st.text(max_size=20), min_size=1, max_size=15, unique=True))
def test_any_original_is_inserted_verbatim(originals: list[str]) -> None:
    mapping = {o: f"[X_{i + 1}]" for i, o in enumerate(originals)}
    text = " | ".join(mapping.values())
    assert Matcher(invert_map(mapping, "j")).sub(text) == " | ".join(originals)
