"""Keyless ``verify`` sees ciphertext rows that belong to no sealed state of their job: the
job's row records (under its seal) how many bytes of ciphertext it has and how many file
chunks; every other field is one blob. A chunk planted after the last one keeps the
indexes contiguous, so only these counts show it without a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from custody_kit import new_vault, raw_db, sample_job

from vault.custody import Custodian
from vault.lifecycle import verify

PLANTS = {
    # the review's blob: the last chunk of a field copied one index further
    "map chunk": "INSERT INTO blobs (job_id, field, idx, key_version, data) SELECT job_id, "
    "field, idx + 1, key_version, data FROM blobs WHERE job_id = 'job-1' AND field = 'map'",
    "file chunk": "INSERT INTO blobs (job_id, field, idx, key_version, data) SELECT job_id, "
    "field, idx + 1, key_version, data FROM blobs WHERE job_id = 'job-1' AND field = 'file' "
    "AND idx = (SELECT max(idx) FROM blobs WHERE job_id = 'job-1' AND field = 'file')",
    "unknown field": "INSERT INTO blobs (job_id, field, idx, key_version, data) SELECT job_id, "
    "'extra', 0, key_version, data FROM blobs WHERE job_id = 'job-1' AND field = 'map'",
    # a chunk dropped, its neighbour's bytes padded to keep the size: still one too few
    "file chunk dropped": "DELETE FROM blobs WHERE job_id = 'job-1' AND field = 'file' "
    "AND idx = (SELECT max(idx) FROM blobs WHERE job_id = 'job-1' AND field = 'file')",
}


@pytest.mark.parametrize("plant", PLANTS)
def test_a_planted_or_dropped_blob_is_a_keyless_finding(
    vault_location: Path | str, plant: str
) -> None:
    with new_vault(vault_location, chunk_size=16) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
        kr.store_job(sample_job("job-2"), actor="alice")
        assert verify(kr).ok
    with raw_db(vault_location) as db:
        db.execute(PLANTS[plant])
    with Custodian.open(vault_location) as kr:
        report = verify(kr)
    assert [(f.check, f.job_id) for f in report.findings if f.check == "structure"], report
    assert {f.job_id for f in report.findings} == {"job-1"}, report.findings
