"""Users' key material: making a passphrase-protected key pair, and opening it again.

A user row holds the X25519 public key and, unless the user was added with only a public key,
the private key wrapped under a passphrase-derived key (``crypto.derive_kek``) with the KDF
algorithm, parameters and salt beside it. The wrap's associated data binds vault id, user name,
public key and KDF parameters, so none of them can be swapped without the unwrap failing.
"""

from __future__ import annotations

import re

import vault.crypto as crypto
from vault._dataclass import dataclass
from vault.errors import InputError, IntegrityError
from vault.models import UserInfo
from vault.store import UserRow

# Names appear in the log, in HPKE info and on the command line: keep them plain.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def check_name(name: str) -> str:
    """The name if it is a valid user name, else ``InputError``."""
    if not _NAME.fullmatch(name):
        raise InputError(
            "a user name is 1 to 64 letters, digits or . _ @ + - and starts with a letter or digit"
        )
    return name


@dataclass(frozen=True, repr=False)
class NewKey:
    """A fresh key pair with its private half wrapped under a passphrase."""

    private_key: bytes
    public_key: bytes
    wrapped_key: bytes
    salt: bytes
    kdf: crypto.KdfParams


def make_key(
    *,
    vault_id: str,
    name: str,
    passphrase: str,
    kdf: crypto.KdfParams,
    random: crypto.Random,
    private_key: bytes | None = None,
) -> NewKey:
    """Wrap ``private_key`` (or a new one) for ``name`` under ``passphrase``; one derivation."""
    kdf.check()
    if private_key is None:
        private_key, public_key = crypto.generate_keypair(random)
    else:
        public_key = crypto.public_key_of(private_key)
    salt = random(crypto.SALT_SIZE)
    kek = crypto.derive_kek(passphrase, salt, kdf)
    aad = crypto.user_key_aad(vault_id, name, public_key, kdf)
    wrapped = crypto.wrap_private_key(kek, private_key, aad, random)
    return NewKey(private_key, public_key, wrapped, salt, kdf)


def stored_kdf(row: UserRow, *, unsafe_ok: bool = True) -> crypto.KdfParams:
    """The user's stored KDF parameters, checked against the ceilings before any work, and
    against the floor unless the vault recorded them as accepted below it (``unsafe_ok``)."""
    if (
        row.kdf_algorithm not in ("argon2id", "scrypt")
        or row.kdf_memory_kib is None
        or row.kdf_passes is None
        or row.kdf_lanes is None
        or row.kdf_salt is None
    ):
        raise IntegrityError(f"the key parameters of user {row.name} are damaged")
    params = crypto.KdfParams(
        algorithm="argon2id" if row.kdf_algorithm == "argon2id" else "scrypt",
        memory_kib=int(row.kdf_memory_kib),
        passes=int(row.kdf_passes),
        lanes=int(row.kdf_lanes),
        unsafe=unsafe_ok,
    )
    try:
        params.check()
    except InputError as exc:
        raise IntegrityError(
            f"the key parameters of user {row.name} are out of bounds; refusing to derive"
        ) from exc
    return params


def open_key(row: UserRow, *, vault_id: str, passphrase: str, unsafe_ok: bool = True) -> bytes:
    """The user's raw private key; ``WrongPassphrase`` if the passphrase does not open it."""
    if row.wrapped_key is None or row.kdf_salt is None:
        raise IntegrityError(f"user {row.name} has no stored private key")
    params = stored_kdf(row, unsafe_ok=unsafe_ok)
    kek = crypto.derive_kek(passphrase, row.kdf_salt, params)
    aad = crypto.user_key_aad(vault_id, row.name, row.public_key, params)
    private_key = crypto.unwrap_private_key(kek, row.wrapped_key, aad)
    if not crypto.constant_time_equal(crypto.public_key_of(private_key), row.public_key):
        raise IntegrityError(f"the stored key pair of user {row.name} does not match")
    return private_key


def user_row(name: str, key: NewKey, now: float) -> UserRow:
    return UserRow(
        id=0,
        name=name,
        enabled=True,
        created_at=now,
        public_key=key.public_key,
        wrapped_key=key.wrapped_key,
        kdf_algorithm=key.kdf.algorithm,
        kdf_memory_kib=key.kdf.memory_kib,
        kdf_passes=key.kdf.passes,
        kdf_lanes=key.kdf.lanes,
        kdf_salt=key.salt,
        key_changed_at=now,
    )


def user_info(row: UserRow) -> UserInfo:
    return UserInfo(
        name=row.name,
        enabled=row.enabled,
        has_private_key=row.wrapped_key is not None,
        created_at=row.created_at,
        fingerprint=crypto.fingerprint(row.public_key),
        unsafe_kdf=_below_floor(row),
    )


def _below_floor(row: UserRow) -> bool:
    if row.wrapped_key is None or row.kdf_memory_kib is None or row.kdf_passes is None:
        return False
    algorithm: crypto.KdfAlgorithm = "scrypt" if row.kdf_algorithm == "scrypt" else "argon2id"
    return crypto.KdfParams(
        algorithm, int(row.kdf_memory_kib), int(row.kdf_passes), int(row.kdf_lanes or 1)
    ).below_floor()
