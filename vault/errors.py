"""The one exception tree of questa-vault.

Library code raises only these; foreign errors (httpx, sqlite3, cryptography's InvalidTag)
are translated where they enter and chained with ``raise ... from exc``. The CLI turns them
into a one-line message and an exit code in one place (``vault.cli``), using ``exit_code``.

Messages never contain an original (PII) value: name the job and the placeholder instead.

    VaultError                      exit 1
    ├── InputError                  bad input file, unsupported type, bad option value
    │   ├── MissingExtra            an optional extra (simulator, custodian) is not installed
    │   ├── ConfigError             the config file or a setting is invalid or missing
    │   ├── OutputExists            refusing to replace a file (no --force, or its own input)
    │   ├── UnsupportedFormat       e.g. writing a restored PDF
    │   ├── DocumentError           a corrupt, cut or encrypted DOCX/XLSX/PDF
    │   │   └── UnsafeDocument      a zip bomb, or XML with a DTD or entities
    │   ├── AmbiguousJob            a short job id that several jobs start with
    │   └── UnknownJob              no such job in the vault (or it was erased)
    ├── ApiError                    the remote service refused or could not be reached
    │   ├── ApiAuthError            401 / 403 (stop at once)
    │   ├── JobNotFound             404: unknown or expired (results are kept 1 hour)
    │   ├── RateLimited             429 after the retries allowed
    │   ├── ServerError             5xx / network after bounded retries
    │   └── MalformedResponse       the server answered something we cannot trust
    │       └── ResponseTooLarge    the answer passed the size limit (--max-response)
    ├── StoreError                  the vault database cannot be reached, read or written
    │   ├── VaultNotFound           no vault at PATH
    │   ├── VaultExists             refusing to overwrite
    │   └── Unavailable             not now: never an integrity finding of verify
    │       ├── VaultBusy           another process held the lock too long; a conflict
    │       ├── ConnectionLost      no connection, or lost mid-command (PostgreSQL)
    │       └── RoleRefused         the database role may not do this (PostgreSQL)
    ├── PlaceholderCollision        one placeholder, two originals across jobs
    ├── Incomplete                  exit 3: jobs failed/expired/timed out, placeholders unresolved
    ├── AccessDenied                exit 4
    │   ├── WrongPassphrase
    │   ├── UnknownUser
    │   ├── UserDisabled
    │   ├── NoGrant
    │   └── VaultAccessDenied       the database server refused the credentials
    └── IntegrityError              exit 5: tampering or corruption; nothing released
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every error questa-vault raises on purpose."""

    exit_code: int = 1


class InputError(VaultError):
    """Bad input: a missing, empty or unsupported file, or an invalid option value."""


class MissingExtra(InputError):
    """A command needs an optional dependency group (an extra) that is not installed."""


class ConfigError(InputError):
    """The config file cannot be read or parsed, a setting is unknown or has the wrong type, or
    a needed setting (the API URL) is not configured anywhere."""


class OutputExists(InputError):
    """An output file exists and replacing it was not asked for (``--force``), or it is the
    command's own input."""


class AmbiguousJob(InputError):
    """A short job id (a prefix) that starts more than one job's id."""


class UnsupportedFormat(InputError):
    """The operation does not support this file type (e.g. restoring inside a PDF)."""


class DocumentError(InputError):
    """A DOCX, XLSX or PDF that cannot be read: corrupt, cut short, or encrypted."""


class UnsafeDocument(DocumentError):
    """A document refused before it could do harm: a zip bomb, or XML with a DTD or entities."""


class UnknownJob(InputError):
    """The vault holds no such job, or holds only its tombstone (erased)."""


class ApiError(VaultError):
    """The remote service refused the request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiAuthError(ApiError):
    """401 or 403: the token is missing, invalid, or out of requests."""


class JobNotFound(ApiError):
    """404: the job is unknown or expired (results are kept 1 hour)."""


class RateLimited(ApiError):
    """429 persisted past the retries allowed."""


class ServerError(ApiError):
    """5xx or network failure persisted past the bounded retries."""


class MalformedResponse(ApiError):
    """The server's answer failed validation; nothing was stored."""


class ResponseTooLarge(MalformedResponse):
    """The answer's body passed the configured size limit; reading stopped there."""


class StoreError(VaultError):
    """The vault database cannot be opened, read or written."""


class VaultNotFound(StoreError):
    """There is no vault at the given path."""


class VaultExists(StoreError):
    """A vault already exists where one was to be created."""


class Unavailable(StoreError):
    """The command could not do its work now (no connection, the vault busy, the role not
    allowed): a failure of the command (exit 1), never an integrity finding of ``verify``."""


class VaultBusy(Unavailable):
    """Another process held the vault's lock for too long, or a concurrent change conflicted:
    run the command again."""


class ConnectionLost(Unavailable):
    """The connection to the vault database could not be opened, or was lost mid-command
    (the server rolled back what was open): a failure of the command (exit 1), never an
    integrity finding."""


class RoleRefused(Unavailable):
    """The database refused the connection's role this action (a missing privilege, or a rule
    of the role guard in docs/team.md): a permission problem, never an integrity finding."""


class PlaceholderCollision(VaultError):
    """A placeholder means different originals in different jobs."""


class Incomplete(VaultError):
    """Some work did not finish: jobs failed or expired, or placeholders were left unresolved."""

    exit_code = 3


class Interrupted(VaultError):
    """Ctrl-C (SIGINT) stopped a run; the message names the jobs left pending for ``sync``."""

    exit_code = 130


class AccessDenied(VaultError):
    """The user may not read this: wrong passphrase, unknown or disabled user, no grant."""

    exit_code = 4


class WrongPassphrase(AccessDenied):
    """The passphrase does not open the user's key."""


class UnknownUser(AccessDenied):
    """No such user in this vault."""


class UserDisabled(AccessDenied):
    """The user exists but is disabled."""


class NoGrant(AccessDenied):
    """The user holds no grant for the job."""


class VaultAccessDenied(AccessDenied):
    """The vault's database server refused the credentials (PostgreSQL)."""


class IntegrityError(VaultError):
    """Tampering or corruption detected; nothing was released."""

    exit_code = 5
