"""A small deterministic PII detector standing in for the service's models.

It finds e-mail addresses, phone numbers, payment card numbers (Luhn-checked), IBANs
(mod-97-checked), dates, person names from a built-in list and organizations from a built-in
list. The simulator reproduces the service's contract (placeholders, numbering, maps), not its
recall: anything not listed here passes through untouched, which is what makes test outcomes
predictable.

``detect`` yields candidate spans; choosing among overlapping ones is ``anonymize``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vault._dataclass import dataclass

# The 16 entity type names the service documents, in its order.
ENTITY_TYPES: tuple[str, ...] = (
    "PERSON_NAME",
    "NATIONAL_ID",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "ADDRESS",
    "DATE",
    "CREDIT_CARD",
    "IBAN",
    "VAT_NUMBER",
    "USERNAME",
    "ZIP_CODE",
    "LICENSE_KEY",
    "API_KEY",
    "ORGANIZATION",
    "LOCATION",
    "GPE",
)

FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Adam", "Alice", "Amelia", "Andrew", "Anna", "Bob", "Brian", "Carlos", "Charles",
    "Charlotte", "Chris", "Daniel", "David", "Diana", "Elena", "Emily", "Emma", "Eric", "Fatima",
    "Frank", "George", "Hannah", "Helen", "Henry", "Isabella", "Jack", "James", "Jane", "Jason",
    "Jennifer", "Jill", "Joe", "John", "Jose", "Julia", "Karen", "Kevin", "Laura", "Linda",
    "Lisa", "Lucas", "Maria", "Martha", "Mary", "Matthew", "Michael", "Mohammed", "Nancy",
    "Olivia", "Paul", "Peter", "Priya", "Rachel", "Robert", "Sarah", "Sophia", "Susan", "Thomas",
    "Wei", "William", "Yuki",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "Adams", "Anderson", "Baker", "Brown", "Clark", "Davis", "Doe", "Evans", "Garcia", "Green",
    "Hall", "Harris", "Jackson", "Johnson", "Jones", "King", "Lee", "Lewis", "Lopez", "Martin",
    "Martinez", "Miller", "Moore", "Murphy", "Nguyen", "Patel", "Roberts", "Robinson",
    "Rodriguez", "Rossi", "Schmidt", "Smith", "Taylor", "Thomas", "Thompson", "Walker", "White",
    "Williams", "Wilson", "Wright", "Young",
)  # fmt: skip

ORGANIZATIONS: tuple[str, ...] = (
    "Acme", "Amazon", "Apple", "Contoso", "Deutsche Bank", "Globex", "Google", "IBM", "Initech",
    "Meta", "Microsoft", "Netflix", "Oracle", "Siemens", "Tesla", "Umbrella Corporation",
)  # fmt: skip

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)


def _alternation(words: tuple[str, ...]) -> str:
    # Longest first, so "Deutsche Bank" is tried before a shorter entry sharing its start.
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "EMAIL_ADDRESS",
        re.compile(
            r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
        ),
    ),
    ("IBAN", re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")),
    (
        "CREDIT_CARD",
        re.compile(
            r"(?<![\w-])(?:[3-6]\d{3}([ -]?)\d{4}\1\d{4}\1\d{4}"  # 16 digits in groups of 4
            r"|3[47]\d{2}([ -]?)\d{6}\2\d{5})(?![\w-])"  # 15 digits as 4-6-5
        ),
    ),
    (
        "PHONE_NUMBER",
        re.compile(
            # Not a piece of a longer run of digit groups (e.g. a card number).
            r"(?<![\w+(])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
            r"\d{3,4}[ .-]\d{4}(?![\w-]|[ .]\d)"
            r"|(?<![\w+])\+\d{8,14}(?!\w)"
        ),
    ),
    (
        "DATE",
        re.compile(
            r"(?<![\w/.-])(?:"
            r"(?P<iso>\d{4}-(?P<im>\d{2})-(?P<id>\d{2}))"
            r"|(?P<num>(?P<na>\d{1,2})(?P<sep>[/.])(?P<nb>\d{1,2})(?P=sep)\d{4})"
            rf"|\d{{1,2}} {_MONTH}\.? \d{{4}}"
            rf"|{_MONTH}\.? \d{{1,2}}, \d{{4}}"
            r")(?![\w/-])"
        ),
    ),
    (
        "PERSON_NAME",
        re.compile(rf"\b(?:{_alternation(FIRST_NAMES)})(?: (?:{_alternation(SURNAMES)}))?\b"),
    ),
    ("ORGANIZATION", re.compile(rf"\b(?:{_alternation(ORGANIZATIONS)})\b")),
)

# Types this detector can find; the others are accepted in `entities` and find nothing.
DETECTED_TYPES: tuple[str, ...] = tuple(name for name, _ in _PATTERNS)
# When two detections start at the same place and have the same length, the lower wins.
PRIORITY: dict[str, int] = {name: i for i, (name, _) in enumerate(_PATTERNS)}


@dataclass(frozen=True)
class Detection:
    """A value the simulator's detector found: where, and of which entity type."""

    start: int
    end: int
    entity_type: str


def detect(text: str, types: frozenset[str]) -> Iterator[Detection]:
    """Every candidate span of the enabled ``types`` in ``text`` (spans may overlap)."""
    for name, pattern in _PATTERNS:
        if name not in types:
            continue
        for match in pattern.finditer(text):
            if _valid(name, match):
                yield Detection(match.start(), match.end(), name)


def _valid(name: str, match: re.Match[str]) -> bool:
    if name == "CREDIT_CARD":
        return _luhn(re.sub(r"\D", "", match.group()))
    if name == "IBAN":
        return _iban_ok(match.group().replace(" ", ""))
    if name == "DATE":
        if match.group("iso"):
            return 1 <= int(match.group("im")) <= 12 and 1 <= int(match.group("id")) <= 31
        if match.group("num"):
            a, b = int(match.group("na")), int(match.group("nb"))
            return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)
    return True


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1
