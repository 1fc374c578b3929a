"""What a job id may be: its own module, because the command line checks every id it is given
and must not load the response validation (base64, the body reader) to do it."""

from __future__ import annotations

import re

from vault.errors import InputError

# Job ids travel in URL paths and become default file names on export, so only a conservative
# alphabet is accepted, from the server and from the command line alike.
JOB_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_job_id(text: object) -> bool:
    """True when ``text`` is a job id of the rule (``JOB_ID_RE``)."""
    return isinstance(text, str) and JOB_ID_RE.fullmatch(text) is not None


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` when it is a plausible job id, else raise ``InputError``."""
    if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        raise InputError(
            "not a valid job id (a letter or digit, then letters, digits, '.', '_' and '-'; "
            "at most 128 characters)"
        )
    return job_id
