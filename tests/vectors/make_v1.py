"""Regenerate the version-1 known-answer vectors (run once; the outputs are committed).

    .venv/bin/python tests/vectors/make_v1.py

Do not rerun for a released format: a later version must still open these exact bytes.
Every key, salt and nonce comes from fixed bytes or a seeded random source.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from custody_kit import DeterministicRandom, StepClock  # noqa: E402

import vault.store as store  # noqa: E402
from vault import crypto  # noqa: E402
from vault.custody import Custodian, KdfParams  # noqa: E402
from vault.models import JobContent, SubmitOptions  # noqa: E402

FAST = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
VAULT_ID = "00112233445566778899aabbccddeeff"
JOB_ID = "550e8400-e29b-41d4-a716-446655440000"


def fixed(data: bytes) -> crypto.Random:
    def random(n: int) -> bytes:
        assert n == len(data)
        return data

    return random


def h(data: bytes) -> str:
    return data.hex()


def main() -> None:
    out: dict[str, object] = {"format_version": 1}

    canonical_input = ["questa", 1, None, True, 1.5, b"\x00\xff", ["a", 2], {"b": 1, "a": 2}]
    out["canonical"] = {"expected": h(crypto.canonical(*canonical_input))}

    salt = bytes(range(16))
    kdfs = []
    for params in (FAST, KdfParams("scrypt", 1024, 1, 1)):
        kek = crypto.derive_kek("vector passphrase", salt, params)
        kdfs.append(
            {
                "algorithm": params.algorithm,
                "memory_kib": params.memory_kib,
                "passes": params.passes,
                "lanes": params.lanes,
                "passphrase": "vector passphrase",
                "salt": h(salt),
                "kek": h(kek),
            }
        )
    out["kdf"] = kdfs

    private = bytes(range(32, 64))
    public = crypto.public_key_of(private)
    kek = bytes.fromhex(kdfs[0]["kek"])  # type: ignore[arg-type]
    aad = crypto.user_key_aad(VAULT_ID, "alice", public, FAST)
    nonce = bytes(range(100, 112))
    out["user_key"] = {
        "vault_id": VAULT_ID,
        "user": "alice",
        "private_key": h(private),
        "public_key": h(public),
        "kek": h(kek),
        "nonce": h(nonce),
        "wrapped": h(crypto.wrap_private_key(kek, private, aad, fixed(nonce))),
    }

    dek = bytes(range(200, 232))
    keys = crypto.job_keys(dek)
    blobs = []
    for field, index, final, plaintext in (
        ("map", 0, True, b'[["John Doe", "[PERSON_NAME_1]"]]'),
        ("file", 0, False, b"name\n[PERSON_NAME_1]\n"),
        ("file", 1, True, b""),
        ("filename", 0, True, "r\u00e9sum\u00e9.csv".encode()),
    ):
        nonce = crypto.sha256(field.encode() + bytes([index]))[:12]
        aad = crypto.blob_aad(VAULT_ID, JOB_ID, 1, field, index, final)
        blobs.append(
            {
                "field": field,
                "index": index,
                "final": final,
                "key_version": 1,
                "nonce": h(nonce),
                "plaintext": h(plaintext),
                "blob": h(crypto.encrypt_blob(keys.blob_key, plaintext, aad, fixed(nonce))),
            }
        )
    out["job_keys"] = {"dek": h(dek), "blob_key": h(keys.blob_key), "seal_key": h(keys.seal_key)}
    out["blobs"] = {"vault_id": VAULT_ID, "job_id": JOB_ID, "items": blobs}

    info = crypto.dek_info(VAULT_ID, JOB_ID, "alice", 1)
    out["sealed_dek"] = {
        "vault_id": VAULT_ID,
        "job_id": JOB_ID,
        "user": "alice",
        "key_version": 1,
        "recipient_private_key": h(private),
        "dek": h(dek),
        "sealed": h(crypto.seal_dek(dek, public, info)),
    }

    metadata = {"state": "archived", "entity_count": 3, "entity_counts": {"PERSON_NAME": 1}}
    digests = [["map", 0, 1, crypto.sha256(bytes.fromhex(blobs[0]["blob"]))]]  # type: ignore[arg-type]
    message = crypto.seal_message(VAULT_ID, JOB_ID, 1, metadata, digests)
    out["seal"] = {
        "seal_key": h(keys.seal_key),
        "message": h(message),
        "seal": h(crypto.compute_seal(keys.seal_key, message)),
    }

    prev = crypto.GENESIS_HASH
    entries = []
    for seq, (user, action, job, subject, counts) in enumerate(
        (
            ("alice", "init", None, "alice", {}),
            ("alice", "fetch", JOB_ID, None, {"map_entries": 1, "entities": 3}),
            ("bob", "restore", JOB_ID, None, {"PERSON_NAME": 1}),
        ),
        start=1,
    ):
        time = 1_800_000_000.25 + seq
        digest = crypto.log_entry_hash(
            prev,
            vault_id=VAULT_ID,
            seq=seq,
            time=time,
            user=user,
            action=action,
            job_id=job,
            counts=counts,
            subject=subject,
        )
        entries.append(
            {
                "seq": seq,
                "time": time,
                "user": user,
                "action": action,
                "job_id": job,
                "subject": subject,
                "counts": counts,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    out["log"] = {"vault_id": VAULT_ID, "entries": entries}

    out["vault"] = make_vault(HERE / "vault-v1.db")
    (HERE / "v1.json").write_text(json.dumps(out, indent=1, ensure_ascii=True) + "\n")


def make_vault(path: Path) -> dict[str, object]:
    """A small vault: a submitted-then-archived job in several chunks and a failed job."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)
    random = DeterministicRandom(b"questa-vault v1 vault vector")
    kr = Custodian.create(
        path,
        user="alice",
        passphrase="vector passphrase",
        kdf=FAST,
        clock=StepClock(),
        random=random,
        chunk_size=16,
    )
    kr.add_user("bob", passphrase="bob passphrase", kdf=FAST, actor="alice")
    options = SubmitOptions("PERSON_NAME,EMAIL_ADDRESS", 5, (("Phoenix", "PROJECT"),))
    kr.record_pending(
        JOB_ID,
        file_type="csv",
        source="upload",
        submitted_at=1_800_000_000.0,
        filename="customers.csv",
        options=options,
        actor="alice",
    )
    content = b"name,email\n[PERSON_NAME_6],[EMAIL_ADDRESS_7]\n[PROJECT_8]\n"
    mapping = {
        "John Doe": "[PERSON_NAME_6]",
        "john@example.com": "[EMAIL_ADDRESS_7]",
        "Phoenix": "[PROJECT_8]",
    }
    kr.store_job(
        JobContent(JOB_ID, "archived", "csv", 1_800_000_001.5, 4, content, mapping),
        actor="alice",
    )
    kr.store_job(
        JobContent("failed-job", "failed", "pdf", None, 0, None, {}, error="parser crashed"),
        actor="alice",
    )
    head = kr.log_head()
    store.checkpoint(kr.db)
    kr.close()
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
    conn.close()
    return {
        "file": path.name,
        "users": {"alice": "vector passphrase", "bob": "bob passphrase"},
        "job_id": JOB_ID,
        "content": h(content),
        "mapping": mapping,
        "filename": "customers.csv",
        "options": {
            "entities": options.entities,
            "start_index": options.start_index,
            "custom_entities": [list(p) for p in options.custom_entities],
        },
        "failed_job": {"job_id": "failed-job", "error": "parser crashed"},
        "log_head": [head[0], head[1]],
    }


if __name__ == "__main__":
    main()
