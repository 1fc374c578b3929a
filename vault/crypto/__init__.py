"""Cryptographic primitives and the vault's byte formats (tier L1).

The only package that imports ``cryptography``: ``_formats`` (canonical encoding, blobs,
seal, log hash) and ``_keys`` (passphrases, X25519 user keys, HPKE-sealed data keys).
Everything here is a pure function of its inputs plus an injectable random source
(``Random``), so known-answer vectors can fix every key and nonce. ``InvalidTag`` never
leaves this package: a failed passphrase becomes
``WrongPassphrase``, any other failed authentication becomes ``IntegrityError``.

Design choices (the byte layouts are specified in ``docs/storage.md``):

- One canonical encoding binds context everywhere (``canonical``): typed, length-prefixed
  fields, never string joins, so no two different tuples encode to the same bytes.
- Every stored ciphertext starts with a format-version byte, and that byte is also inside
  the associated data or the HPKE ``info``, so it cannot be changed without detection.
- User keys are X25519. The private key is wrapped with AES-256-GCM under a key derived from
  the passphrase with Argon2id (scrypt where Argon2id is unavailable). Parameters are checked
  against caps *before* any derivation starts, so a doctored vault cannot make us allocate
  terabytes.
- A job's random data key (DEK) is sealed to each recipient with HPKE (RFC 9180, base mode,
  X25519 + HKDF-SHA256 + AES-256-GCM). HPKE's ephemeral key comes from OpenSSL and cannot be
  injected, so sealed-DEK vectors are checked by decryption only.
- Two sub-keys come out of a DEK through HKDF-SHA256: one encrypts the job's blobs, one keys
  the per-job seal (HMAC-SHA256 over plaintext metadata and ciphertext digests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use: listing jobs and auditing need no cryptography.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AEAD_OVERHEAD": "vault.crypto._formats",
        "FORMAT_V1": "vault.crypto._formats",
        "GENESIS_HASH": "vault.crypto._formats",
        "KEY_SIZE": "vault.crypto._formats",
        "MAX_KDF_COST": "vault.crypto._keys",
        "MAX_KDF_LANES": "vault.crypto._keys",
        "MAX_KDF_MEMORY_KIB": "vault.crypto._keys",
        "MAX_KDF_PASSES": "vault.crypto._keys",
        "NONCE_SIZE": "vault.crypto._formats",
        "SALT_SIZE": "vault.crypto._formats",
        "SEALED_DEK_SIZE": "vault.crypto._formats",
        "SEAL_SIZE": "vault.crypto._formats",
        "SEAL_V2": "vault.crypto._formats",
        "TAG_SIZE": "vault.crypto._formats",
        "X25519_SIZE": "vault.crypto._formats",
        "argon2_available": "vault.crypto._keys",
        "blob_aad": "vault.crypto._formats",
        "canonical": "vault.crypto._formats",
        "check_seal": "vault.crypto._formats",
        "compute_seal": "vault.crypto._formats",
        "constant_time_equal": "vault.crypto._formats",
        "decrypt_blob": "vault.crypto._formats",
        "default_kdf": "vault.crypto._keys",
        "dek_info": "vault.crypto._formats",
        "derive_kek": "vault.crypto._keys",
        "encrypt_blob": "vault.crypto._formats",
        "fingerprint": "vault.crypto._keys",
        "generate_keypair": "vault.crypto._keys",
        "job_keys": "vault.crypto._keys",
        "load_private_key_pem": "vault.crypto._keys",
        "load_public_key": "vault.crypto._keys",
        "log_entry_hash": "vault.crypto._formats",
        "new_dek": "vault.crypto._keys",
        "open_dek": "vault.crypto._keys",
        "private_key_pem": "vault.crypto._keys",
        "public_key_of": "vault.crypto._keys",
        "public_key_pem": "vault.crypto._keys",
        "seal_dek": "vault.crypto._keys",
        "seal_message": "vault.crypto._formats",
        "seal_version": "vault.crypto._formats",
        "sha256": "vault.crypto._formats",
        "unwrap_private_key": "vault.crypto._keys",
        "user_key_aad": "vault.crypto._keys",
        "wrap_private_key": "vault.crypto._keys",
        "Field": "vault.crypto._formats",
        "JobKeys": "vault.crypto._keys",
        "KdfAlgorithm": "vault.crypto._keys",
        "KdfParams": "vault.crypto._keys",
        "Random": "vault.crypto._formats",
    },
)

if TYPE_CHECKING:
    from vault.crypto._formats import (
        AEAD_OVERHEAD,
        FORMAT_V1,
        GENESIS_HASH,
        KEY_SIZE,
        NONCE_SIZE,
        SALT_SIZE,
        SEAL_SIZE,
        SEAL_V2,
        SEALED_DEK_SIZE,
        TAG_SIZE,
        X25519_SIZE,
        Field,
        Random,
        blob_aad,
        canonical,
        check_seal,
        compute_seal,
        constant_time_equal,
        decrypt_blob,
        dek_info,
        encrypt_blob,
        log_entry_hash,
        seal_message,
        seal_version,
        sha256,
    )
    from vault.crypto._keys import (
        MAX_KDF_COST,
        MAX_KDF_LANES,
        MAX_KDF_MEMORY_KIB,
        MAX_KDF_PASSES,
        JobKeys,
        KdfAlgorithm,
        KdfParams,
        argon2_available,
        default_kdf,
        derive_kek,
        fingerprint,
        generate_keypair,
        job_keys,
        load_private_key_pem,
        load_public_key,
        new_dek,
        open_dek,
        private_key_pem,
        public_key_of,
        public_key_pem,
        seal_dek,
        unwrap_private_key,
        user_key_aad,
        wrap_private_key,
    )

__all__ = [
    "AEAD_OVERHEAD",
    "FORMAT_V1",
    "GENESIS_HASH",
    "KEY_SIZE",
    "MAX_KDF_COST",
    "MAX_KDF_LANES",
    "MAX_KDF_MEMORY_KIB",
    "MAX_KDF_PASSES",
    "NONCE_SIZE",
    "SALT_SIZE",
    "SEALED_DEK_SIZE",
    "SEAL_SIZE",
    "SEAL_V2",
    "TAG_SIZE",
    "X25519_SIZE",
    "Field",
    "JobKeys",
    "KdfAlgorithm",
    "KdfParams",
    "Random",
    "argon2_available",
    "blob_aad",
    "canonical",
    "check_seal",
    "compute_seal",
    "constant_time_equal",
    "decrypt_blob",
    "default_kdf",
    "dek_info",
    "derive_kek",
    "encrypt_blob",
    "fingerprint",
    "generate_keypair",
    "job_keys",
    "load_private_key_pem",
    "load_public_key",
    "log_entry_hash",
    "new_dek",
    "open_dek",
    "private_key_pem",
    "public_key_of",
    "public_key_pem",
    "seal_dek",
    "seal_message",
    "seal_version",
    "sha256",
    "unwrap_private_key",
    "user_key_aad",
    "wrap_private_key",
]
