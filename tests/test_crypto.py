"""Primitives and byte formats: round trips, rejection of every change, parameter caps, and the
committed version-1 known-answer vectors (``tests/vectors/v1.json``)."""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import crypto
from vault.errors import InputError, IntegrityError, WrongPassphrase

VECTORS = json.loads((Path(__file__).parent / "vectors" / "v1.json").read_text())
VAULT_ID = "v" * 32
KEY = bytes(range(32))


def fixed(data: bytes) -> crypto.Random:
    return lambda n: data[:n]


# --------------------------------------------------------------------------- canonical


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("ab", "c"), ("a", "bc")),
        (("a",), (b"a",)),
        ((1,), (1.0,)),
        ((1,), (True,)),
        ((None,), ("",)),
        ((0,), (False,)),
        ((["a", "b"],), ("a", "b")),
        (([["a"], "b"],), ([["a", "b"]],)),
        (({"a": 1},), ([["a", 1]],)),
        (("", ""), ("",)),
    ],
)
def test_canonical_never_confuses_two_tuples(a: tuple, b: tuple) -> None:
    assert crypto.canonical(*a) != crypto.canonical(*b)


def test_canonical_sorts_mapping_keys() -> None:
    assert crypto.canonical({"b": 1, "a": 2}) == crypto.canonical({"a": 2, "b": 1})


def test_canonical_rejects_integers_out_of_range() -> None:
    with pytest.raises(InputError):
        crypto.canonical(2**63)
    with pytest.raises(InputError):
        crypto.canonical([-(2**63) - 1])


def _spec(value: Any) -> bytes:
    """The canonical encoding as ``canonical``'s docstring states it, one type test at a time
    (the encoder tests exact built-in types first: it must give these bytes for every value)."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"I" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"D" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return b"S" + struct.pack(">I", len(data)) + data
    if isinstance(value, bytes | bytearray | memoryview):
        return b"B" + struct.pack(">I", len(value)) + bytes(value)
    if isinstance(value, Mapping):
        items = b"".join(_spec(k) + _spec(value[k]) for k in sorted(value))
        return b"M" + struct.pack(">I", len(value)) + items
    items = b"".join(_spec(v) for v in value)
    return b"L" + struct.pack(">I", len(list(value))) + items


class _Text(str):
    pass


class _Number(int):
    pass


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(-(2**63), 2**63 - 1).map(_Number)
    | st.floats()
    | st.text()
    | st.text().map(_Text)
    | st.binary()
    | st.binary().map(bytearray)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=24,
)


@settings(max_examples=300)
@given(st.lists(_VALUES, max_size=4))
def test_canonical_matches_its_specification(values: list[Any]) -> None:
    assert crypto.canonical(*values) == b"".join(_spec(v) for v in values)


# --------------------------------------------------------------------------- KDF caps


@pytest.mark.parametrize(
    "params",
    [
        crypto.KdfParams(memory_kib=4 * 1024 * 1024 + 1),
        crypto.KdfParams(memory_kib=2**40),
        crypto.KdfParams(passes=65),
        crypto.KdfParams(passes=0),
        crypto.KdfParams(lanes=65),
        crypto.KdfParams(lanes=0),
        crypto.KdfParams(memory_kib=16, lanes=4),  # below 8 x lanes
        crypto.KdfParams("scrypt", 1000, 1, 1),  # not a power of two
        crypto.KdfParams("scrypt", 1024, 2, 1),  # scrypt has no passes
        crypto.KdfParams("md5", 1024, 1, 1),  # type: ignore[arg-type]
    ],
)
def test_kdf_parameters_above_the_caps_are_refused_before_any_work(
    params: crypto.KdfParams,
) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError):
        crypto.derive_kek("pw", b"s" * 16, params)
    assert time.perf_counter() - start < 0.05


def test_default_kdf_is_argon2id_64mib_3_passes_4_lanes() -> None:
    assert crypto.argon2_available()
    assert crypto.default_kdf() == crypto.KdfParams("argon2id", 65536, 3, 4)


@pytest.mark.parametrize(
    "params", [crypto.KdfParams("argon2id", 8192, 1, 1), crypto.KdfParams("scrypt", 1024, 1, 1)]
)
def test_kdf_depends_on_passphrase_salt_and_parameters(params: crypto.KdfParams) -> None:
    base = crypto.derive_kek("pw", b"s" * 16, params)
    assert len(base) == 32
    assert crypto.derive_kek("pw", b"s" * 16, params) == base
    assert crypto.derive_kek("pw2", b"s" * 16, params) != base
    assert crypto.derive_kek("pw", b"t" * 16, params) != base


# --------------------------------------------------------------------------- user keys


def test_wrapped_private_key_opens_only_with_its_passphrase_and_context() -> None:
    private, public = crypto.generate_keypair()
    kek = crypto.derive_kek("pw", b"s" * 16, crypto.KdfParams("argon2id", 8192, 1, 1))
    aad = crypto.user_key_aad(VAULT_ID, "alice", public, crypto.KdfParams("argon2id", 8192, 1, 1))
    wrapped = crypto.wrap_private_key(kek, private, aad, os.urandom)
    assert crypto.unwrap_private_key(kek, wrapped, aad) == private
    with pytest.raises(WrongPassphrase):
        crypto.unwrap_private_key(bytes(32), wrapped, aad)
    other = crypto.user_key_aad(VAULT_ID, "bob", public, crypto.KdfParams("argon2id", 8192, 1, 1))
    with pytest.raises(WrongPassphrase):  # the wrap is bound to its user
        crypto.unwrap_private_key(kek, wrapped, other)
    weaker = crypto.user_key_aad(VAULT_ID, "alice", public, crypto.KdfParams("argon2id", 8, 1, 1))
    with pytest.raises(WrongPassphrase):  # and to its KDF parameters (no silent downgrade)
        crypto.unwrap_private_key(kek, wrapped, weaker)


def test_key_files_round_trip_through_pem() -> None:
    private, public = crypto.generate_keypair()
    assert crypto.load_private_key_pem(crypto.private_key_pem(private)) == private
    assert crypto.load_public_key(crypto.public_key_pem(public)) == public
    assert crypto.public_key_of(private) == public
    with pytest.raises(InputError):
        crypto.load_public_key(b"not a key")
    with pytest.raises(InputError):
        crypto.load_private_key_pem(crypto.public_key_pem(public))


# --------------------------------------------------------------------------- sealed DEKs


@pytest.mark.parametrize(
    "context",
    [
        (VAULT_ID, "job-2", "alice", 1),  # moved to another job
        (VAULT_ID, "job-1", "bob", 1),  # moved to another user
        (VAULT_ID, "job-1", "alice", 2),  # another key version
        ("w" * 32, "job-1", "alice", 1),  # another vault
    ],
)
def test_sealed_dek_is_bound_to_vault_job_user_and_version(context: tuple) -> None:
    private, public = crypto.generate_keypair()
    dek = crypto.new_dek()
    sealed = crypto.seal_dek(dek, public, crypto.dek_info(VAULT_ID, "job-1", "alice", 1))
    assert len(sealed) == crypto.SEALED_DEK_SIZE and sealed[0] == 1
    assert crypto.open_dek(sealed, private, crypto.dek_info(VAULT_ID, "job-1", "alice", 1)) == dek
    with pytest.raises(IntegrityError):
        crypto.open_dek(sealed, private, crypto.dek_info(*context))


def test_sealed_dek_opens_only_for_its_recipient() -> None:
    _, public = crypto.generate_keypair()
    other_private, _ = crypto.generate_keypair()
    info = crypto.dek_info(VAULT_ID, "job-1", "alice", 1)
    sealed = crypto.seal_dek(crypto.new_dek(), public, info)
    with pytest.raises(IntegrityError):
        crypto.open_dek(sealed, other_private, info)


@pytest.mark.parametrize("position", [0, 1, 32, 33, 60, 80])
def test_any_changed_byte_of_a_sealed_dek_is_rejected(position: int) -> None:
    private, public = crypto.generate_keypair()
    info = crypto.dek_info(VAULT_ID, "job-1", "alice", 1)
    sealed = bytearray(crypto.seal_dek(crypto.new_dek(), public, info))
    sealed[position] ^= 0x01
    with pytest.raises(IntegrityError):
        crypto.open_dek(bytes(sealed), private, info)


# --------------------------------------------------------------------------- blobs


def test_blob_round_trip_and_fresh_nonces() -> None:
    aad = crypto.blob_aad(VAULT_ID, "job-1", 1, "map", 0, True)
    one = crypto.encrypt_blob(KEY, b"secret", aad, os.urandom)
    two = crypto.encrypt_blob(KEY, b"secret", aad, os.urandom)
    assert one != two and one[1:13] != two[1:13]
    assert crypto.decrypt_blob(KEY, one, aad) == b"secret"
    assert len(one) == len(b"secret") + crypto.AEAD_OVERHEAD


@pytest.mark.parametrize("position", [0, 1, 12, 13, 18, -1])
def test_any_changed_byte_of_a_blob_is_rejected(position: int) -> None:
    aad = crypto.blob_aad(VAULT_ID, "job-1", 1, "map", 0, True)
    blob = bytearray(crypto.encrypt_blob(KEY, b"secret", aad, os.urandom))
    blob[position] ^= 0x01
    with pytest.raises(IntegrityError):
        crypto.decrypt_blob(KEY, bytes(blob), aad)


@pytest.mark.parametrize(
    "context",
    [
        ("w" * 32, "job-1", 1, "map", 0, True),
        (VAULT_ID, "job-2", 1, "map", 0, True),
        (VAULT_ID, "job-1", 2, "map", 0, True),
        (VAULT_ID, "job-1", 1, "file", 0, True),
        (VAULT_ID, "job-1", 1, "map", 1, True),
        (VAULT_ID, "job-1", 1, "map", 0, False),
    ],
)
def test_blob_is_bound_to_its_context(context: tuple) -> None:
    blob = crypto.encrypt_blob(
        KEY, b"secret", crypto.blob_aad(VAULT_ID, "job-1", 1, "map", 0, True), os.urandom
    )
    with pytest.raises(IntegrityError):
        crypto.decrypt_blob(KEY, blob, crypto.blob_aad(*context))


@pytest.mark.parametrize("blob", [b"", b"\x01" * 28, b"\x02" + b"\0" * 40])
def test_short_or_unknown_version_blobs_are_rejected(blob: bytes) -> None:
    with pytest.raises(IntegrityError):
        crypto.decrypt_blob(KEY, blob, b"")


def test_job_keys_are_distinct_and_deterministic() -> None:
    keys = crypto.job_keys(KEY)
    assert keys.blob_key != keys.seal_key
    assert crypto.job_keys(KEY) == keys
    assert "blob_key" not in repr(keys)


# --------------------------------------------------------------------------- seal and log


def test_seal_detects_any_change_of_its_message() -> None:
    message = crypto.seal_message(VAULT_ID, "job-1", 1, {"entity_count": 3}, [])
    seal = crypto.compute_seal(KEY, message)
    crypto.check_seal(KEY, message, seal)
    changed = crypto.seal_message(VAULT_ID, "job-1", 1, {"entity_count": 4}, [])
    for bad_message, bad_seal in ((changed, seal), (message, None), (message, seal[:-1])):
        with pytest.raises(IntegrityError):
            crypto.check_seal(KEY, bad_message, bad_seal)
    with pytest.raises(IntegrityError):
        crypto.check_seal(bytes(32), message, seal)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"time": 1.5},
        {"user": "bob"},
        {"action": "export"},
        {"job_id": "job-2"},
        {"counts": {"PERSON_NAME": 2}},
        {"subject": "carol"},
        {"vault_id": "w" * 32},
    ],
)
def test_log_hash_covers_every_field(change: dict) -> None:
    entry = {
        "vault_id": VAULT_ID,
        "seq": 1,
        "time": 1.0,
        "user": "alice",
        "action": "restore",
        "job_id": "job-1",
        "counts": {"PERSON_NAME": 1},
        "subject": None,
    }
    base = crypto.log_entry_hash(crypto.GENESIS_HASH, **entry)
    assert crypto.log_entry_hash("1" * 64, **entry) != base
    assert crypto.log_entry_hash(crypto.GENESIS_HASH, **{**entry, **change}) != base


# --------------------------------------------------------------------------- vectors


def test_vector_canonical() -> None:
    value = crypto.canonical("questa", 1, None, True, 1.5, b"\x00\xff", ["a", 2], {"b": 1, "a": 2})
    assert value.hex() == VECTORS["canonical"]["expected"]


@pytest.mark.parametrize("vector", VECTORS["kdf"], ids=lambda v: v["algorithm"])
def test_vector_kdf(vector: dict) -> None:
    params = crypto.KdfParams(
        vector["algorithm"], vector["memory_kib"], vector["passes"], vector["lanes"]
    )
    kek = crypto.derive_kek(vector["passphrase"], bytes.fromhex(vector["salt"]), params)
    assert kek.hex() == vector["kek"]


def test_vector_wrapped_private_key() -> None:
    v = VECTORS["user_key"]
    params = crypto.KdfParams("argon2id", 8192, 1, 1)
    kek, private = bytes.fromhex(v["kek"]), bytes.fromhex(v["private_key"])
    public = bytes.fromhex(v["public_key"])
    assert crypto.public_key_of(private) == public
    aad = crypto.user_key_aad(v["vault_id"], v["user"], public, params)
    assert crypto.unwrap_private_key(kek, bytes.fromhex(v["wrapped"]), aad) == private
    again = crypto.wrap_private_key(kek, private, aad, fixed(bytes.fromhex(v["nonce"])))
    assert again.hex() == v["wrapped"]


def test_vector_job_keys() -> None:
    v = VECTORS["job_keys"]
    keys = crypto.job_keys(bytes.fromhex(v["dek"]))
    assert (keys.blob_key.hex(), keys.seal_key.hex()) == (v["blob_key"], v["seal_key"])


@pytest.mark.parametrize(
    "item", VECTORS["blobs"]["items"], ids=lambda i: f"{i['field']}-{i['index']}"
)
def test_vector_blobs(item: dict) -> None:
    v = VECTORS["blobs"]
    key = bytes.fromhex(VECTORS["job_keys"]["blob_key"])
    aad = crypto.blob_aad(
        v["vault_id"],
        v["job_id"],
        item["key_version"],
        item["field"],
        item["index"],
        item["final"],
    )
    plaintext = bytes.fromhex(item["plaintext"])
    assert crypto.decrypt_blob(key, bytes.fromhex(item["blob"]), aad) == plaintext
    again = crypto.encrypt_blob(key, plaintext, aad, fixed(bytes.fromhex(item["nonce"])))
    assert again.hex() == item["blob"]


def test_vector_sealed_dek_opens() -> None:
    v = VECTORS["sealed_dek"]
    info = crypto.dek_info(v["vault_id"], v["job_id"], v["user"], v["key_version"])
    dek = crypto.open_dek(
        bytes.fromhex(v["sealed"]), bytes.fromhex(v["recipient_private_key"]), info
    )
    assert dek.hex() == v["dek"]


def test_vector_seal() -> None:
    v = VECTORS["seal"]
    blob = bytes.fromhex(VECTORS["blobs"]["items"][0]["blob"])
    message = crypto.seal_message(
        VECTORS["blobs"]["vault_id"],
        VECTORS["blobs"]["job_id"],
        1,
        {"state": "archived", "entity_count": 3, "entity_counts": {"PERSON_NAME": 1}},
        [["map", 0, 1, crypto.sha256(blob)]],
    )
    assert message.hex() == v["message"]
    assert crypto.compute_seal(bytes.fromhex(v["seal_key"]), message).hex() == v["seal"]


def test_vector_log_chain() -> None:
    v = VECTORS["log"]
    prev = crypto.GENESIS_HASH
    for e in v["entries"]:
        assert e["prev_hash"] == prev
        digest = crypto.log_entry_hash(
            prev,
            vault_id=v["vault_id"],
            seq=e["seq"],
            time=e["time"],
            user=e["user"],
            action=e["action"],
            job_id=e["job_id"],
            counts=e["counts"],
            subject=e["subject"],
        )
        assert digest == e["entry_hash"]
        prev = digest
