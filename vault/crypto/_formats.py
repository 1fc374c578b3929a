"""Byte formats: the canonical encoding, constants, and the AEAD blob, seal and log-hash
layouts (``docs/storage.md`` specifies each byte)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.hashes import SHA256, Hash
from cryptography.hazmat.primitives.hmac import HMAC

try:  # hmac.compare_digest's own constant-time fallback, without importing hmac (see sha256)
    from _operator import _compare_digest
except ImportError:  # pragma: no cover - another Python implementation
    from hmac import compare_digest as _compare_digest  # type: ignore[no-redef]

try:  # the class cryptography's ciphers.aead module re-exports, without the ciphers package
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    AESGCM = _rust_openssl.aead.AESGCM
except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import InputError, IntegrityError

Random = Callable[[int], bytes]
"""A source of random bytes: ``random(n) -> n bytes``. Production uses ``os.urandom``."""

FORMAT_V1 = 1
# Seal format 2 also authenticates each key version's holders (user name and public-key
# fingerprint); format-1 seals (vaults written before) are still checked without them.
SEAL_V2 = 2
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SALT_SIZE = 16
X25519_SIZE = 32
# version byte + nonce + tag: the fixed overhead of a blob or a wrapped private key
AEAD_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
SEALED_DEK_SIZE = 1 + X25519_SIZE + KEY_SIZE + TAG_SIZE
SEAL_SIZE = 1 + 32
GENESIS_HASH = "0" * 64

# Domain-separation labels, the first field of every canonical context.
LABEL_BLOB = "questa-vault/blob"
LABEL_DEK = "questa-vault/dek"
LABEL_USER_KEY = "questa-vault/user-key"
LABEL_SUBKEY = "questa-vault/subkey"
LABEL_SEAL = "questa-vault/seal"
LABEL_LOG = "questa-vault/log"


# --------------------------------------------------------------------------- canonical


Field: TypeAlias = (
    bool | int | float | str | bytes | Sequence["Field"] | Mapping[str, "Field"] | None
)


def canonical(*fields: Field) -> bytes:
    """Encode a tuple of fields unambiguously (type tag, then length-prefixed content).

    ``None`` -> ``N``; ``bool`` -> ``T``/``F``; ``int`` -> ``I`` + 8-byte signed big-endian;
    ``float`` -> ``D`` + IEEE-754 binary64 big-endian; ``str`` -> ``S`` + u32 length + UTF-8;
    ``bytes`` -> ``B`` + u32 length + bytes; a sequence -> ``L`` + u32 count + items; a mapping
    -> ``M`` + u32 count + (key, value) items sorted by key.
    """
    out = bytearray()
    for value in fields:
        _encode(value, out)
    return bytes(out)


_INT = struct.Struct(">q").pack
_DOUBLE = struct.Struct(">d").pack
_U32 = struct.Struct(">I").pack


def _encode(value: Field, out: bytearray) -> None:
    # The exact built-in types first, tested by identity (the seal and log hashes of every
    # stored job encode a few hundred values); anything else (bool, subclasses, other
    # sequences and mappings) takes the general way below, which gives the same bytes.
    kind = type(value)
    if kind is str:
        data = value.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
        out += b"S" + _U32(len(data)) + data
    elif kind is int:
        if not -(2**63) <= value < 2**63:  # type: ignore[operator]
            raise InputError("integer out of range for the canonical encoding")
        out += b"I" + _INT(value)
    elif value is None:
        out += b"N"
    elif kind is float:
        out += b"D" + _DOUBLE(value)
    elif type(value) is bytes:
        out += b"B" + _U32(len(value)) + value
    elif type(value) is list or type(value) is tuple:
        out += b"L" + _U32(len(value))
        for item in value:
            _encode(item, out)
    elif type(value) is dict:
        out += b"M" + _U32(len(value))
        for key in sorted(value):
            _encode(key, out)
            _encode(value[key], out)
    else:
        _encode_general(value, out)


def _encode_general(value: Field, out: bytearray) -> None:
    if value is None:
        out += b"N"
    elif isinstance(value, bool):
        out += b"T" if value else b"F"
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InputError("integer out of range for the canonical encoding")
        out += b"I" + struct.pack(">q", value)
    elif isinstance(value, float):
        out += b"D" + struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        out += b"S" + struct.pack(">I", len(data)) + data
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out += b"B" + struct.pack(">I", len(data)) + data
    elif isinstance(value, Mapping):
        out += b"M" + struct.pack(">I", len(value))
        for key in sorted(value):
            _encode(key, out)
            _encode(value[key], out)
    else:
        items = list(value)
        out += b"L" + struct.pack(">I", len(items))
        for item in items:
            _encode(item, out)


_SHA256 = SHA256()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest.

    SHA-256 and HMAC come from cryptography, whose OpenSSL is loaded anyway (AES-GCM, HPKE):
    the standard ``hashlib``/``hmac`` would load the system's OpenSSL as a second library
    (``_hashlib``: 3 % of a restore's start-up). The digests are the same; a hash object
    costs about 2 microseconds more than hashlib's, nothing beside the canonical encoding.
    """
    digest = Hash(_SHA256)
    digest.update(data)
    return digest.finalize()


# --------------------------------------------------------------------------- contexts


def dek_info(vault_id: str, job_id: str, user: str, key_version: int) -> bytes:
    """HPKE ``info`` of a sealed DEK: binds vault, job, recipient and key version."""
    return canonical(LABEL_DEK, FORMAT_V1, vault_id, job_id, user, key_version)


# --------------------------------------------------------------------------- blobs


def blob_aad(
    vault_id: str,
    job_id: str,
    key_version: int,
    field: str,
    index: int = 0,
    final: bool = True,
) -> bytes:
    """Associated data of one blob: vault, job, key version, field, format version, chunk."""
    return canonical(LABEL_BLOB, FORMAT_V1, vault_id, job_id, key_version, field, index, final)


def encrypt_blob(blob_key: bytes, plaintext: bytes, aad: bytes, random: Random) -> bytes:
    """``01 || nonce(12) || AES-256-GCM ciphertext and tag``."""
    return aead_seal(blob_key, plaintext, aad, random)


def decrypt_blob(blob_key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext of a blob; ``IntegrityError`` on any change of blob or context."""
    return aead_open(blob_key, blob, aad)


def aead_seal(key: bytes, plaintext: bytes, aad: bytes, random: Random) -> bytes:
    nonce = random(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise InputError("the random source returned the wrong number of bytes")
    header = bytes([FORMAT_V1])
    # The version byte is authenticated too: it leads the associated data.
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def aead_open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < AEAD_OVERHEAD or blob[0] != FORMAT_V1:
        raise IntegrityError("a ciphertext has an unknown format or is truncated")
    header, nonce, body = blob[:1], blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
    try:
        return AESGCM(key).decrypt(nonce, body, header + aad)
    except InvalidTag as exc:
        raise IntegrityError("a ciphertext failed authentication") from exc


# --------------------------------------------------------------------------- seal


def seal_message(
    vault_id: str,
    job_id: str,
    key_version: int,
    metadata: Field,
    digests: Field,
    holders: Field = None,
) -> bytes:
    """The bytes a job's seal authenticates: plaintext metadata and ciphertext digests, and
    (seal format 2, ``holders`` given) who holds each key version."""
    if holders is None:
        return canonical(LABEL_SEAL, FORMAT_V1, vault_id, job_id, key_version, metadata, digests)
    return canonical(LABEL_SEAL, SEAL_V2, vault_id, job_id, key_version, metadata, digests, holders)


def compute_seal(seal_key: bytes, message: bytes, version: int = FORMAT_V1) -> bytes:
    """``version || HMAC-SHA256(seal_key, message)`` (the message names the version too)."""
    mac = HMAC(seal_key, _SHA256)
    mac.update(message)
    return bytes([version]) + mac.finalize()


def seal_version(seal: bytes | None) -> int:
    """The format of a stored seal (1 or 2); ``IntegrityError`` if missing or unknown."""
    if seal is None or len(seal) != SEAL_SIZE or seal[0] not in (FORMAT_V1, SEAL_V2):
        raise IntegrityError("the job's seal is missing or has an unknown format")
    return seal[0]


def check_seal(seal_key: bytes, message: bytes, seal: bytes | None) -> None:
    """``IntegrityError`` unless ``seal`` authenticates ``message`` (constant-time compare)."""
    version = seal_version(seal)
    if not _compare_digest(compute_seal(seal_key, message, version), seal or b""):
        raise IntegrityError("the job's seal does not match its metadata and ciphertexts")


# --------------------------------------------------------------------------- log chain


def log_entry_hash(
    prev_hash: str,
    *,
    vault_id: str,
    seq: int,
    time: float,
    user: str,
    action: str,
    job_id: str | None,
    counts: Mapping[str, int],
    subject: str | None = None,
    facts: Mapping[str, Field] | None = None,
) -> str:
    """Hex SHA-256 over the previous hash and the canonical entry. ``facts`` (the state an
    entry leaves behind: key version, seal digest, holders, KDF settings) is hashed as one
    more field when present; entries written before it existed hash without it."""
    try:
        prev = bytes.fromhex(prev_hash)
    except ValueError as exc:
        raise IntegrityError("an access-log hash is not hex") from exc
    entry = canonical(
        LABEL_LOG, FORMAT_V1, vault_id, seq, time, user, action, job_id, subject, dict(counts)
    )
    if facts is not None:
        entry += canonical(dict(facts))
    return sha256(prev + entry).hex()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two secrets or digests without a timing side channel."""
    return _compare_digest(a, b)
