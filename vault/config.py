"""Paths and defaults: where the vault lives, and the tunable constants everyone shares.

Nothing here reads the environment except to find the per-user directories (as platformdirs
would); the CLI reads the rest and passes values in.

Where a vault lives: a SQLite file path, or a ``postgresql://`` URL. A URL never carries a
password: credentials come from libpq's own mechanisms (the password file ``~/.pgpass`` or
``PGPASSFILE``, the service file ``~/.pg_service.conf`` or ``PGSERVICEFILE``, ``PGPASSWORD``,
or no password at all with peer/certificate authentication). A URL with a password (in its
user part or as a ``password=`` parameter) is refused before anything connects, with a
message saying where the password belongs, so a secret never sits on a command line, in shell
history or in a process listing.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import posixpath
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from vault._dataclass import dataclass
from vault.errors import InputError

APP_NAME = "questa-vault"
# Named in messages and docs only: never a default, so no file goes to a third party unasked.
HOSTED_DEMO_URL = "https://demo.questa-ai.online"
RETENTION_SECONDS = 3600
EXPIRY_WARNING_SECONDS = 600
CHUNK_SIZE = 1024 * 1024


def default_vault_path() -> Path:
    """The platform's user data directory, ``questa-vault/vault.db``."""
    return _user_dir("XDG_DATA_HOME", ".local/share", "user_data_dir") / "vault.db"


def default_config_path() -> Path:
    """The platform's user config directory, ``questa-vault/config.toml``."""
    return _user_dir("XDG_CONFIG_HOME", ".config", "user_config_dir") / "config.toml"


def _user_dir(xdg_variable: str, under_home: str, platformdirs_name: str) -> Path:
    """The per-user directory platformdirs names, without importing it on Linux.

    Every command looks for its settings file, and platformdirs costs a cold start (it
    imports ``tempfile``, ``shutil``, ``random``, ``bz2`` and ``lzma``), so on Linux its XDG
    rule is applied here: the variable when it holds an absolute path, else the directory
    under an absolute ``HOME``. Anything else (another platform, no usable ``HOME``) asks
    platformdirs. A test holds the two to the same answers.
    """
    if sys.platform.startswith("linux"):
        xdg = os.environ.get(xdg_variable, "")
        if posixpath.isabs(xdg):
            return Path(xdg) / APP_NAME
        home = os.environ.get("HOME", "")
        if posixpath.isabs(home):
            return Path(home) / under_home / APP_NAME
    import platformdirs

    return Path(getattr(platformdirs, platformdirs_name)(APP_NAME, appauthor=False))


# --------------------------------------------------------------------------- vault location

URL_SCHEMES = ("postgresql", "postgres")

CREDENTIALS_REFUSED = (
    "the vault URL carries a password; remove it and give the password through libpq instead: "
    "a password file (~/.pgpass, or the file named by PGPASSFILE), a service file "
    "(~/.pg_service.conf or PGSERVICEFILE, then postgresql:///?service=NAME), or PGPASSWORD"
)


URL_PARAMETER_REFUSED = (
    "the vault URL carries a secret ({key}); remove it and give it through libpq instead: a "
    "service file (~/.pg_service.conf or PGSERVICEFILE, then postgresql:///?service=NAME)"
)
# libpq's connection parameters that carry a secret: the ones libpq itself marks secret
# (``PQconndefaults``' display character ``*``: password, sslpassword, oauth_client_secret in
# libpq 18) and the SCRAM keys, which it files as debug options. ``is_secret_parameter`` also
# asks the running libpq, so a secret parameter of a newer libpq is refused too.
SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
# A parameter whose name holds one of these is taken for a secret, known to libpq or not.
_SECRET_WORDS = ("password", "secret", "scram", "token", "credential")


def is_secret_parameter(key: str) -> bool:
    """Whether the libpq connection parameter ``key`` carries a secret (never in a URL)."""
    key = key.lower()
    return (
        key in SECRET_PARAMETERS
        or any(word in key for word in _SECRET_WORDS)
        or key in _libpq_secret_parameters()
    )


@functools.cache
def _libpq_secret_parameters() -> frozenset[str]:
    """The parameters the running libpq marks secret (display character ``*``)."""
    try:
        from psycopg import pq

        return frozenset(
            o.keyword.decode().lower() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"
        )
    except Exception:  # the static list above still holds
        return frozenset()


# Connection parameters whose values a message may show; any other is shown as ``***``.
_SHOWN_PARAMETERS = frozenset(
    {
        "host", "hostaddr", "port", "dbname", "user", "service", "sslmode", "sslrootcert",
        "sslcert", "sslkey", "sslcrl", "application_name", "connect_timeout",
        "target_session_attrs", "gssencmode", "channel_binding", "require_auth", "passfile",
    }
)  # fmt: skip


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL vault: a libpq connection URL without a password. ``url`` is what
    connects; ``str()`` is what messages show (``redacted``)."""

    url: str

    def __post_init__(self) -> None:
        check_url(self.url)

    def __str__(self) -> str:
        return self.redacted

    @property
    def redacted(self) -> str:
        return redact_url(self.url)

    @property
    def name(self) -> str:
        """The database's name (as a file's name names a SQLite vault), else the service's."""
        params = libpq_parameters(self.url)
        return params.get("dbname") or params.get("service") or "vault"


def redact_url(url: str) -> str:
    """The URL as libpq reads it (``libpq_parameters``), rebuilt with the value of every
    parameter not known to be harmless as ``***``: secrets are refused on the way in, and
    this keeps any that libpq may add later out of error messages too (and out of
    ``config show`` for a settings file written before a secret was refused). Built from
    what libpq parsed, never from the text, which another parser splits differently; a URL
    libpq cannot read is not repeated at all."""
    try:
        params = dict(libpq_parameters(url))
    except InputError:
        return "postgresql://*** (libpq cannot read this URL)"
    dbname = params.pop("dbname", "")
    netloc = ""
    host = params.get("host", "")
    if host and not any(c in host for c in "/,@:%"):  # one host name or IPv4 address
        netloc = _shown(params.pop("host"))
        if "port" in params and params["port"].isdigit():
            netloc += f":{params.pop('port')}"
    # in the order the URL gives them (libpq's own order otherwise), so a URL with
    # nothing to hide is shown as written
    given = "&" + url.partition("?")[2]
    spot = {key: given.find(f"&{key}=") % (len(given) + 1) for key in params}
    query = "&".join(
        f"{key}={_shown(value) if _is_shown(key) else '***'}"
        for key, value in sorted(params.items(), key=lambda item: spot[item[0]])
    )
    return f"postgresql://{netloc}/{_shown(dbname)}" + (f"?{query}" if query else "")


def _is_shown(key: str) -> bool:
    return key.lower() in _SHOWN_PARAMETERS and not is_secret_parameter(key)


def _shown(value: str) -> str:
    """A parameter's value in a message: percent-encoded where a URL reader would split it."""
    return quote(value, safe="/:,[]-._~")


def libpq_parameters(url: str) -> dict[str, str]:
    """The connection parameters of ``url`` exactly as libpq reads them (``PQconninfoParse``
    via psycopg), or ``InputError``. urllib ends a URL's user part at a ``?`` or ``#`` and
    makes everything after a ``#`` a fragment; libpq does neither, so a password holding
    ``?`` or ``#``, or a ``password=`` after a ``#``, is invisible to urllib but used by
    libpq. libpq's own message quotes the URL, so it is never shown."""
    from psycopg import Error as PsycopgError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {key: str(value) for key, value in conninfo_to_dict(url).items()}
    except UnicodeDecodeError:  # a percent-encoded byte that is not UTF-8 (``%90``)
        raise InputError(
            "the vault URL is malformed (a percent-encoded value is not UTF-8): libpq cannot "
            "read it"
        ) from None
    except PsycopgError as exc:
        first = re.split(r'[:"]', str(exc), maxsplit=1)[0].strip()  # "invalid URI ...", ...
        raise InputError(f"the vault URL is malformed ({first}): libpq cannot read it") from None


Location = Path | DatabaseUrl


def is_database_url(text: str) -> bool:
    """True when ``text`` is a ``postgresql://`` (or ``postgres://``) URL."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def check_api_url(url: str) -> bool:
    """``InputError`` unless ``url`` is an http(s) URL with a host and no credentials in it
    (user:password@, or a query string: a token goes in --token-file, QUESTA_API_TOKEN or the
    keyring, never into a URL that is stored with every job and printed by show and audit).
    True when it sends in clear to another machine (http:// to a host that is not loopback)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        userinfo = parts.username is not None or parts.password is not None
    except ValueError as exc:
        raise InputError(f"the API URL is malformed ({exc})") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise InputError("the API URL must start with http:// or https:// and name a host")
    if userinfo or parts.query or parts.fragment:
        raise InputError(
            "the API URL must not carry credentials (user:password@ or a query string): it is "
            "stored with every job and shown by show and audit; give the token with "
            "--token-file, QUESTA_API_TOKEN or `questa-vault secret set token`"
        )
    return parts.scheme == "http" and not _is_loopback(host)


def _is_loopback(host: str) -> bool:
    """True for exactly ``localhost`` or an IP literal in 127.0.0.0/8 or ``::1``: a name
    that merely starts with ``127.`` (``127.evil.example``, ``127.0.0.1.nip.io``) resolves
    wherever its owner likes."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback if address.version == 4 else str(address) == "::1"


def check_url(url: str) -> None:
    """``InputError`` unless ``url`` is a PostgreSQL URL without a password, as libpq reads
    it (``libpq_parameters``: the parser that connects decides, not another one)."""
    if not is_database_url(url):
        raise InputError("a vault URL must start with postgresql://")
    try:
        # what urllib sees is refused too (an empty password ``u:@``, which libpq drops; a
        # parameter libpq does not know, ``newpassword=``, named for what it is)
        parts = urlsplit(url)
        if parts.password is not None:
            _refuse_secret("password")
        for key, _ in parse_qsl(parts.query, keep_blank_values=True):
            if is_secret_parameter(key):
                _refuse_secret(key)
    except ValueError:
        pass
    for key in libpq_parameters(url):
        if is_secret_parameter(key):  # password, sslpassword, oauth_client_secret, ...
            _refuse_secret(key)


def _refuse_secret(key: str) -> None:
    if key.lower() == "password":
        raise InputError(CREDENTIALS_REFUSED)
    raise InputError(URL_PARAMETER_REFUSED.format(key=key))


def check_not_other_url(value: str) -> None:
    """``InputError`` when ``value`` looks like a URL (``word://`` or ``word:/``) whose scheme
    is not PostgreSQL's: ``postgresq://host/db`` or ``sqlite:///v.db`` would otherwise name a
    local file in a directory called ``postgresq:``, and a vault be made there in silence.
    Only the scheme is shown (the rest may carry a secret)."""
    if is_database_url(value):
        return
    scheme, sep, _ = value.partition(":/")
    if (
        sep
        and scheme[:1].isalpha()
        and scheme.isascii()
        and all(c.isalnum() or c in "+.-" for c in scheme)
    ):
        raise InputError(
            f"the vault location starts with '{scheme}:/', which is not a vault: give "
            "a SQLite file path (e.g. ./vault.db) or a postgresql:// (or postgres://) URL"
        )


def vault_location(value: str | Path | DatabaseUrl) -> Location:
    """A ``--vault``/``QUESTA_VAULT`` value as a location: a URL or a file path (a URL of
    another scheme is refused, ``check_not_other_url``)."""
    if isinstance(value, DatabaseUrl):
        return value
    if isinstance(value, str):
        if is_database_url(value):
            return DatabaseUrl(value)
        check_not_other_url(value)
    return Path(value)
