"""Keys: passphrase derivation and private-key wrapping, X25519 user keys, and job data keys
sealed with HPKE.

Cold start: raw X25519 keys are loaded through the same OpenSSL binding that cryptography's
``X25519PrivateKey.from_private_bytes`` calls, after the same FIPS check, because that method
first imports cryptography's whole OpenSSL backend (RSA, EC, padding: a quarter of a
restore's start-up) just to ask whether X25519 is allowed. scrypt and PEM serialization load
only when used.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault._dataclass import dataclass
from vault.crypto._formats import (
    FORMAT_V1,
    KEY_SIZE,
    LABEL_SUBKEY,
    LABEL_USER_KEY,
    SALT_SIZE,
    SEALED_DEK_SIZE,
    X25519_SIZE,
    Random,
    aead_open,
    aead_seal,
    canonical,
    sha256,
)
from vault.errors import InputError, IntegrityError, WrongPassphrase

if TYPE_CHECKING:
    from types import ModuleType

try:  # Argon2id needs cryptography >= 44 built against OpenSSL >= 3.2
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id as _Argon2id
except ImportError:  # pragma: no cover - depends on the platform's build
    _Argon2id = None  # type: ignore[assignment,misc]

try:  # the binding behind X25519PrivateKey.from_private_bytes (see the module docstring)
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    _X25519_RAW: Any = _rust_openssl.x25519
    _FIPS_ENABLED = bool(_rust_openssl.is_fips_enabled())
except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
    _X25519_RAW = None
    _FIPS_ENABLED = False

_HPKE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


# --------------------------------------------------------------------------- passphrases

KdfAlgorithm = Literal["argon2id", "scrypt"]
# Ceilings checked before any work: a vault file is untrusted input, and a doctored record
# must not make an unlock take gigabytes or minutes (1 GiB x 4 passes is a few seconds).
MAX_KDF_MEMORY_KIB = 1024 * 1024  # 1 GiB
MAX_KDF_PASSES = 16
MAX_KDF_LANES = 16
MAX_KDF_COST = 4 * MAX_KDF_MEMORY_KIB  # memory (KiB) x passes
SCRYPT_R = 8
# Floors (OWASP password-storage minimums, in line with RFC 9106): the least Argon2id
# memory for a number of passes (5 passes and more: 7 MiB), and scrypt N = 2^17 (r = 8).
ARGON2_FLOOR_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216}
ARGON2_FLOOR_MIN_KIB = 7168
SCRYPT_FLOOR_N = 2**17


@dataclass(frozen=True)
class KdfParams:
    """Passphrase key-derivation parameters, stored per user.

    Argon2id: ``memory_kib`` KiB, ``passes`` iterations, ``lanes`` parallelism.
    scrypt (fallback): N = ``memory_kib`` (with r = 8 one unit of N costs 1 KiB, so
    ``memory_kib`` is again the memory in KiB), p = ``lanes``, ``passes`` must be 1.
    ``unsafe`` accepts settings below the floor (tests and demos only; the vault records it).
    """

    algorithm: KdfAlgorithm = "argon2id"
    memory_kib: int = 65536
    passes: int = 3
    lanes: int = 4
    unsafe: bool = False

    def check(self) -> None:
        """Refuse parameters outside the ceilings, or below the floor unless ``unsafe``,
        before any work; ``InputError`` if so."""
        self.check_bounds()
        if self.below_floor() and not self.unsafe:
            raise InputError(
                "these key-derivation settings are below the floor (Argon2id: "
                "at least 19456 KiB with 2 passes, 12288 KiB with 3, 47104 KiB with 1; "
                "scrypt: N = 131072); weaker settings need the explicit unsafe switch "
                "(--unsafe-kdf), for tests and demos only"
            )

    def check_bounds(self) -> None:
        """Refuse parameters outside the ceilings (and malformed ones); ``InputError``."""
        if self.algorithm not in ("argon2id", "scrypt"):
            raise InputError(f"unknown key-derivation algorithm {self.algorithm!r}")
        if not 1 <= self.lanes <= MAX_KDF_LANES:
            raise InputError(f"KDF lanes must be between 1 and {MAX_KDF_LANES}")
        if not 1 <= self.passes <= MAX_KDF_PASSES:
            raise InputError(f"KDF passes must be between 1 and {MAX_KDF_PASSES}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_KDF_MEMORY_KIB:
            raise InputError(f"KDF memory must be between 8 x lanes and {MAX_KDF_MEMORY_KIB} KiB")
        if self.memory_kib * self.passes > MAX_KDF_COST:
            raise InputError(f"KDF memory x passes must be at most {MAX_KDF_COST} KiB")
        if self.algorithm == "scrypt":
            n = self.memory_kib
            if n < 2 or n & (n - 1) or self.passes != 1:
                raise InputError("scrypt needs a power-of-two memory in KiB and passes = 1")

    def below_floor(self) -> bool:
        """Whether these settings are weaker than current guidance."""
        if self.algorithm == "scrypt":
            return self.memory_kib < SCRYPT_FLOOR_N
        return self.memory_kib < ARGON2_FLOOR_KIB.get(self.passes, ARGON2_FLOOR_MIN_KIB)


def default_kdf() -> KdfParams:
    """Argon2id 64 MiB / 3 passes / 4 lanes; scrypt N=2^17 where Argon2id is unavailable."""
    if argon2_available():
        return KdfParams()
    return KdfParams(algorithm="scrypt", memory_kib=2**17, passes=1, lanes=1)


@cache
def argon2_available() -> bool:
    """Whether this cryptography/OpenSSL build can run Argon2id."""
    if _Argon2id is None:
        return False
    try:
        _Argon2id(salt=b"\0" * SALT_SIZE, length=16, iterations=1, lanes=1, memory_cost=8).derive(
            b"probe"
        )
    except UnsupportedAlgorithm:
        return False
    return True


def derive_kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """The 32-byte key-encryption key of a passphrase (the slow, memory-hard step). Only the
    ceilings are checked here: whether settings below the floor are acceptable is the
    caller's decision (made when the key is created, and recorded in the vault)."""
    params.check_bounds()
    if len(salt) != SALT_SIZE:
        raise InputError("the KDF salt must be 16 bytes")
    secret = passphrase.encode("utf-8", "surrogatepass")
    if params.algorithm == "argon2id":
        if not argon2_available():
            raise InputError("this vault user needs Argon2id, which this platform lacks")
        kdf = _Argon2id(
            salt=salt,
            length=KEY_SIZE,
            iterations=params.passes,
            lanes=params.lanes,
            memory_cost=params.memory_kib,
        )
        return kdf.derive(secret)
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # the fallback KDF only

    return Scrypt(
        salt=salt, length=KEY_SIZE, n=params.memory_kib, r=SCRYPT_R, p=params.lanes
    ).derive(secret)


def user_key_aad(vault_id: str, user: str, public_key: bytes, params: KdfParams) -> bytes:
    """Associated data of a wrapped private key: binds vault, user, public key and KDF."""
    return canonical(
        LABEL_USER_KEY,
        FORMAT_V1,
        vault_id,
        user,
        public_key,
        params.algorithm,
        params.memory_kib,
        params.passes,
        params.lanes,
    )


def wrap_private_key(kek: bytes, private_key: bytes, aad: bytes, random: Random) -> bytes:
    """``01 || nonce || AES-256-GCM(kek, private_key, aad)``."""
    return aead_seal(kek, private_key, aad, random)


def unwrap_private_key(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """The raw private key; ``WrongPassphrase`` when the tag does not verify."""
    try:
        key = aead_open(kek, wrapped, aad)
    except IntegrityError as exc:
        raise WrongPassphrase("wrong passphrase") from exc
    if len(key) != X25519_SIZE:
        raise IntegrityError("a stored private key has the wrong length")
    return key


# --------------------------------------------------------------------------- user keys


def generate_keypair(random: Random = os.urandom) -> tuple[bytes, bytes]:
    """A new X25519 key pair as raw bytes: ``(private, public)``."""
    private = X25519PrivateKey.from_private_bytes(random(X25519_SIZE))
    return _raw_private(private), _raw_public(private.public_key())


def public_key_of(private_key: bytes) -> bytes:
    """The raw X25519 public key of a raw private key."""
    return _raw_public(_load_private(private_key).public_key())


def fingerprint(public_key: bytes) -> str:
    """A short, stable hex name for a public key (first 16 hex digits of its SHA-256)."""
    return sha256(b"questa-vault/x25519:" + public_key).hex()[:16]


@cache
def _serialization() -> ModuleType:
    """cryptography's key serialization (PEM), loaded by the commands that read or write a
    key file only: it pulls in SSH and PKCS#12 support, a third of cryptography's import
    time, which a restore (raw keys only) does not need."""
    from cryptography.hazmat.primitives import serialization

    return serialization


def private_key_pem(private_key: bytes) -> bytes:
    """PKCS#8 PEM of a raw private key (unencrypted: the file itself is kept 0600, offline)."""
    serialization = _serialization()
    return _load_private(private_key).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(public_key: bytes) -> bytes:
    """SubjectPublicKeyInfo PEM of a raw public key."""
    serialization = _serialization()
    return _load_public(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key_pem(data: bytes) -> bytes:
    """The raw X25519 private key from a PKCS#8 PEM file; ``InputError`` otherwise."""
    try:
        key = _serialization().load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputError("not an unencrypted X25519 private key in PEM form") from exc
    if not isinstance(key, X25519PrivateKey):
        raise InputError("not an X25519 private key")
    return _raw_private(key)


def load_public_key(data: bytes) -> bytes:
    """The raw X25519 public key from a PEM file (as ``keygen`` prints); ``InputError`` else."""
    try:
        key = _serialization().load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputError("not an X25519 public key in PEM form") from exc
    if not isinstance(key, X25519PublicKey):
        raise InputError("not an X25519 public key")
    return _raw_public(key)


def _load_private(raw: bytes) -> X25519PrivateKey:
    if len(raw) != X25519_SIZE:
        raise IntegrityError("a private key has the wrong length")
    if _X25519_RAW is None or _FIPS_ENABLED:  # the public path raises UnsupportedAlgorithm
        return X25519PrivateKey.from_private_bytes(raw)
    key: X25519PrivateKey = _X25519_RAW.from_private_bytes(raw)
    return key


def _load_public(raw: bytes) -> X25519PublicKey:
    if len(raw) != X25519_SIZE:
        raise IntegrityError("a public key has the wrong length")
    if _X25519_RAW is None or _FIPS_ENABLED:
        return X25519PublicKey.from_public_bytes(raw)
    key: X25519PublicKey = _X25519_RAW.from_public_bytes(raw)
    return key


def _raw_private(key: X25519PrivateKey) -> bytes:
    return key.private_bytes_raw()


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


# --------------------------------------------------------------------------- data keys


def new_dek(random: Random = os.urandom) -> bytes:
    """A fresh 256-bit data key for one job (one key version)."""
    dek = random(KEY_SIZE)
    if len(dek) != KEY_SIZE:
        raise InputError("the random source returned the wrong number of bytes")
    return dek


def seal_dek(dek: bytes, public_key: bytes, info: bytes) -> bytes:
    """``01 || HPKE(enc || ciphertext)``: the DEK sealed to one recipient's public key."""
    return bytes([FORMAT_V1]) + _HPKE.encrypt(dek, _load_public(public_key), info=info)


def open_dek(sealed: bytes, private_key: bytes, info: bytes) -> bytes:
    """The DEK of a sealed grant; ``IntegrityError`` if it was moved, edited or truncated."""
    if len(sealed) != SEALED_DEK_SIZE or sealed[0] != FORMAT_V1:
        raise IntegrityError("a sealed data key has an unknown format")
    try:
        dek = _HPKE.decrypt(sealed[1:], _load_private(private_key), info=info)
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError("a sealed data key failed authentication") from exc
    if len(dek) != KEY_SIZE:
        raise IntegrityError("a sealed data key has the wrong length")
    return dek


@dataclass(frozen=True, repr=False)
class JobKeys:
    """The two sub-keys of a DEK: blob encryption and the per-job seal."""

    blob_key: bytes
    seal_key: bytes


def job_keys(dek: bytes) -> JobKeys:
    """Derive the blob and seal keys of a DEK (HKDF-SHA256, distinct ``info`` each)."""
    return JobKeys(blob_key=_subkey(dek, "blob"), seal_key=_subkey(dek, "seal"))


def _subkey(dek: bytes, purpose: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=None,
        info=canonical(LABEL_SUBKEY, FORMAT_V1, purpose),
    )
    return hkdf.derive(dek)
