"""The click group, global options, and the one place where errors become exit codes.

Every command module imports ``cli`` from here and adds its commands to it. Helpers shared
by commands (reading secrets, building the API client options, JSON output, tables, UTC times)
live here too, so no command repeats them.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from vault._dataclass import dataclass
from vault._version import __version__
from vault.cli._defaults import check_command_names, command_defaults, root_defaults
from vault.cli._harden import harden_process
from vault.cli._jobref import complete_users
from vault.cli._secrets import get_secret, passphrase_entry, token_entry
from vault.cli._settings import Settings, config_path, load
from vault.cli._terminal import echo, inert, inert_json, reason
from vault.config import (
    HOSTED_DEMO_URL,
    Location,
    check_api_url,
    default_vault_path,
    vault_location,
)
from vault.errors import (
    ConfigError,
    InputError,
    Interrupted,
    MissingExtra,
    OutputExists,
    VaultError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from vault.api import Vault

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_DENIED = 4
EXIT_INTEGRITY = 5


@dataclass
class _Run:
    """What ``run`` needs to know after click has unwound its contexts: the parsed ``-v``
    count of the group (0 until the group's callback has run)."""

    verbose: int = 0
    terminated: bool = False  # SIGTERM arrived: Ctrl-C's report, exit 143
    settings: Settings | None = None
    settings_error: ConfigError | None = None
    gc_paused: bool = False  # the collector waits for the command's own work (start_up)


_run = _Run()


@contextlib.contextmanager
def start_up(collecting: bool | None = None) -> Iterator[None]:
    """The process's start-up, for ``main``: the cyclic collector is paused until the group's
    callback, where the command's own work begins. ``collecting``: whether it ran before the
    caller paused it (the console script pauses it before importing click); default: as now.

    Start-up (click, the command's module, the options) makes objects that live to the end of
    the process and hardly any garbage cycles (a few hundred objects), and the collector's
    passes over the rest cost a text restore 12 M of its 340 M instructions. At the group's
    callback what start-up made is put out of the collector's reach (``gc.freeze``: kept to
    the end, as it would be anyway) and the collector resumes, so the command's own work (a
    restore of any size) is collected as before. Not for ``run`` alone: an application that
    embeds it keeps its collector as it is."""
    _run.gc_paused = gc.isenabled() if collecting is None else collecting
    gc.disable()
    try:
        yield
    finally:
        if _run.gc_paused:  # the callback never ran (--help, --version, a usage error)
            _run.gc_paused = False
            gc.enable()


def _resume_collector() -> None:
    if _run.gc_paused:
        _run.gc_paused = False
        gc.freeze()
        gc.enable()


@dataclass
class AppContext:
    """What the global options decided; handed to every command through click's context."""

    vault_path: Location  # a SQLite file or a PostgreSQL URL (no password)
    user: str | None
    verbose: int
    quiet: bool
    passphrase_file: Path | None
    key_file: Path | None = None
    settings: Settings | None = None
    stdin_taken: str | None = None

    @property
    def err(self) -> Console:
        """Console for human messages, progress and summaries (stderr)."""
        from rich.console import Console  # rich loads only for commands that draw with it

        return Console(stderr=True, quiet=self.quiet)

    @property
    def out(self) -> Console:
        """Console for the command's result (stdout)."""
        from rich.console import Console

        return Console()

    def say(self, message: str) -> None:
        """A plain human line on stderr, unless --quiet."""
        if not self.quiet:
            echo(message, err=True)

    def passphrase(
        self, *, confirm: bool = False, prompt: str = "Passphrase", user: str | None = None
    ) -> str:
        """The passphrase from --passphrase-file (``-``: standard input), else
        QUESTA_VAULT_PASSPHRASE, else the OS keyring (``keyring = true`` in the settings; not
        for a new passphrase), else a hidden prompt.

        Never from a command-line flag. With ``confirm`` the prompt asks twice, and again
        while the two differ.
        """
        if self.passphrase_file is not None:
            if is_dash(self.passphrase_file):
                self.claim_stdin("--passphrase-file")
            return read_secret(self.passphrase_file)
        if os.environ.get("QUESTA_VAULT_PASSPHRASE") is None and not confirm and user is not None:
            stored = self.keyring_secret(passphrase_entry(str(self.vault_path), user))
            if stored is not None:
                return stored
        return read_secret(None, confirm=confirm, prompt=prompt)

    def keyring_secret(self, entry: str) -> str | None:
        """A secret from the OS keyring when the settings ask for it, else None."""
        if self.settings is None or not self.settings.keyring:
            return None
        return get_secret(entry)

    def claim_stdin(self, what: str) -> None:
        """Note that ``what`` reads standard input; a second reader is refused (one stream
        cannot hold a passphrase and a file to restore at once)."""
        if self.stdin_taken is not None and self.stdin_taken != what:
            raise click.UsageError(f"{what} and {self.stdin_taken} cannot both read '-' (stdin)")
        self.stdin_taken = what


def is_dash(path: Path | str | None) -> bool:
    """``-`` given for a file option: standard input or output."""
    return path is not None and str(path) == "-"


def read_stdin_secret(what: str) -> bytes:
    """A secret given as ``-``: the bytes on standard input. A terminal is refused, since what
    is typed there echoes (a prompt, which does not, is what leaving the option out gives)."""
    if sys.stdin.isatty():
        raise InputError(
            f"{what} -: standard input is a terminal, where a secret would echo; pipe it in "
            "(or use a file)"
        )
    try:
        return sys.stdin.buffer.read()
    except OSError as exc:
        raise InputError(f"cannot read {what} from stdin: {reason(exc)}") from exc


def refuse_dash(why: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback for a file option (or argument) that cannot be standard input or
    output: ``-`` is a one-line usage error saying why, never a file named ``-``."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        values = value if isinstance(value, tuple | list) else (value,)
        if any(is_dash(v) for v in values):
            shown = param.opts[-1] if isinstance(param, click.Option) else param.human_readable_name
            raise click.UsageError(f"{shown} cannot be '-' (standard input/output): {why}")
        return value

    check.refuses_dash = True  # type: ignore[attr-defined]  # read by tests/test_cli_dash.py
    return check


def erased_message(vault: Vault, job_id: str) -> str:
    """ "job X was erased on TIME (by USER)": from the access log's erase entry."""
    entries = vault.log(action="erase", job_id=job_id)
    if not entries:
        return f"job {job_id} was erased; its map and file no longer exist"
    last = entries[-1]
    return (
        f"job {job_id} was erased on {utc_time(last.time)} UTC by {last.user}; "
        "its map and file no longer exist"
    )


def force_option(func: F) -> F:
    """``--force``: replace an existing output file."""
    return click.option(
        "--force", is_flag=True, help="Replace an existing output file (never the input)."
    )(func)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.absolute() == b.absolute()


def check_output(
    ctx: AppContext,
    output: Path | None,
    *,
    force: bool,
    inputs: Sequence[Path | None] = (),
    outputs: Sequence[Path | None] = (),
) -> None:
    """Before any work: refuse an output that is one of the command's inputs (the vault and its
    companions, the secret files, ``inputs``) or another of its ``outputs`` even with --force,
    and an existing file without it. The output's own writer checks existence again at the
    rename, atomically."""
    if output is None or is_dash(output):
        return
    for other in outputs:
        if other is not None and not is_dash(other) and _same_file(output, other):
            raise OutputExists(f"{output} is given for two outputs; choose another")
    vault = ctx.vault_path
    vault_files = (
        [vault, vault.with_name(vault.name + "-wal"), vault.with_name(vault.name + "-shm")]
        if isinstance(vault, Path)
        else []  # a PostgreSQL vault has no file to overwrite
    )
    own = [
        *vault_files,
        ctx.passphrase_file,
        ctx.key_file,
        *inputs,
    ]
    for source in own:
        if source is not None and not is_dash(source) and _same_file(output, source):
            raise OutputExists(f"{output} is this command's own input; choose another output")
    if output.is_dir():
        raise InputError(f"{output} is a directory")
    from vault.restore import refuse_special  # only output commands pay for it

    refuse_special(output)  # a device, FIFO or socket: never, not even with --force
    if os.path.lexists(output) and not force:
        raise OutputExists(f"{output} exists; --force replaces it")


def read_secret(
    path: Path | None,
    *,
    confirm: bool = False,
    prompt: str = "Passphrase",
    use_env: bool = True,
) -> str:
    """Shared by every command that needs a passphrase (see ``AppContext.passphrase``): the
    file (``-``: standard input), else QUESTA_VAULT_PASSPHRASE, else a hidden prompt.
    The process is hardened first (no core dump, not dumpable) before a secret is read."""
    harden_process()
    env = os.environ.get("QUESTA_VAULT_PASSPHRASE") if use_env else None
    if path is not None:
        if is_dash(path):
            try:
                text = read_stdin_secret("--passphrase-file").decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the passphrase from stdin: {reason(exc)}") from exc
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read passphrase file {path}: {reason(exc)}") from exc
            warn_if_shared(path)
        secret = text.rstrip("\r\n")
    elif env is not None:
        secret = env
    else:
        if not sys.stdin.isatty():
            raise InputError(
                "a passphrase is needed: set QUESTA_VAULT_PASSPHRASE or use --passphrase-file"
            )
        import getpass  # a prompt only (cold start: it loads termios)

        secret = getpass.getpass(f"{prompt}: ")
        while confirm and (not secret or getpass.getpass(f"{prompt} (again): ") != secret):
            # a new passphrase: an empty one or a mismatch asks again
            echo(
                "The passphrase is empty; try again."
                if not secret
                else "The two passphrases differ; try again.",
                err=True,
            )
            secret = getpass.getpass(f"{prompt}: ")
    if not secret:
        raise InputError("the passphrase is empty")
    return secret


def warn_if_shared(path: Path) -> None:
    """A warning on stderr when a secret file can be read or written by other users (as ssh
    and libpq warn): the secret is only as safe as the file. Never refused."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o077 and stat.S_ISREG(mode):
        echo(
            f"warning: {path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
            f"it holds a secret: chmod 600 {path}",
            err=True,
        )


def color() -> bool | None:
    """``False`` when NO_COLOR is set (https://no-color.org), else let click decide (TTY)."""
    return False if os.environ.get("NO_COLOR") else None


def app(ctx: click.Context) -> AppContext:
    """The AppContext of the running command."""
    obj = ctx.find_object(AppContext)
    if obj is None:  # only when a command is invoked outside the group
        raise click.UsageError("internal: no application context")
    return obj


pass_app = click.make_pass_decorator(AppContext)


def json_option(func: F) -> F:
    """``--json``: machine-readable output with stable keys."""
    return click.option(
        "--json/--no-json", "as_json", default=False, help="Print JSON with stable keys."
    )(func)


def emit_json(data: Any) -> None:
    """Write one JSON document on stdout."""
    click.echo(inert_json(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)))


def utc_time(value: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS`` in UTC; ``-`` for none, ``invalid time`` for one
    no date can show (a hostile service's ``1e300``, NaN: never an OverflowError)."""
    if value is None:
        return "-"
    if not -62135596800.0 <= value <= 253402300799.0:
        return "invalid time"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(rows: list[tuple[str, ...]], *, sep: str = "  ") -> None:
    """Print ``rows`` (the first is the heading) as left-aligned columns, each as wide as its
    widest cell (``vault.audit.Table``, the one table printer)."""
    from vault.audit import Column, Table  # with the commands that print one (cold start)

    rows = [tuple(map(inert, row)) for row in rows]  # a cell never breaks or drives the terminal
    printer = Table.sized([Column(heading, gap=sep) for heading in rows[0]], rows[1:])
    echo_lines(printer.lines(rows[1:]))


def echo_lines(lines: Iterable[str], *, batch: int = 4096) -> None:
    """``echo`` each line, a batch of lines per write: a 100,000-row table streams out
    without one write per line."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= batch:
            echo("\n".join(chunk))
            chunk.clear()
    if chunk:
        echo("\n".join(chunk))


# The simulator extra's top-level modules: a missing one means the extra is not installed.
_SIMULATOR_MODULES = frozenset(
    {"starlette", "uvicorn", "multipart", "python_multipart", "lxml", "fpdf"}
)


@contextlib.contextmanager
def simulator_extra(command: str) -> Iterator[None]:
    """Around the import of ``vault.simulator``: without the ``simulator`` extra, one line that
    says how to install it instead of an ImportError."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _SIMULATOR_MODULES:
            raise
        raise MissingExtra(
            f"{command} needs the simulator extra (starlette, uvicorn, python-multipart, lxml, "
            "fpdf2): "
            "pip install 'questa-vault[simulator]'"
        ) from exc


def api_options(func: F) -> F:
    """``--api-url`` and ``--token-file`` for commands that talk to the service."""
    func = click.option(
        "--token-file",
        type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
        help="File holding the API bearer token, '-' for stdin (else env QUESTA_API_TOKEN, else "
        "the OS keyring when enabled; none: no header).",
    )(func)
    func = click.option(
        "--api-url",
        envvar="QUESTA_API_URL",
        help="Base URL of the Questa service (env QUESTA_API_URL, else `api_url` in the config "
        "file; no default: nothing is sent anywhere until you choose).",
    )(func)
    return func


def require_api_url(api_url: str | None) -> str:
    """The configured API URL; refuses (before anything is read or sent) when there is none,
    so no customer file goes to a hosted service by default. A URL with credentials in it is
    refused; plain http:// to another machine gets a warning."""
    if api_url:
        if check_api_url(api_url):
            host = urlsplit(api_url).hostname
            echo(
                f"warning: http://{host} is not encrypted: files, maps (every original) and "
                "the token travel in clear; use https://",
                err=True,
            )
        return api_url
    raise ConfigError(
        "no Questa API URL is configured, so nothing was sent: choose your service with "
        "`questa-vault config set api_url URL` (or --api-url, or QUESTA_API_URL); "
        f"the hosted demo is {HOSTED_DEMO_URL} (it receives your files)"
    )


def read_token(ctx: AppContext, token_file: Path | None, api_url: str) -> str | None:
    """The bearer token from --token-file (``-``: standard input), else env QUESTA_API_TOKEN,
    else the OS keyring (``keyring = true``); None means no header."""
    if token_file is not None:
        try:
            if is_dash(token_file):
                ctx.claim_stdin("--token-file")
                token = read_stdin_secret("--token-file").decode("utf-8").strip()
            else:
                token = token_file.read_text(encoding="utf-8").strip()
                warn_if_shared(token_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read token file {token_file}: {reason(exc)}") from exc
        return token or None
    env = os.environ.get("QUESTA_API_TOKEN")
    if env:
        return env
    return ctx.keyring_secret(token_entry(api_url))


# Each command and the module that defines it. A module is imported only when one of its
# commands runs (or help lists them), so ``--version`` or ``jobs`` never pays for the network
# stack, the restore engine or rich. A new command: add it here and in its module.
COMMANDS: dict[str, str] = {  # in workflow order: `--help` lists them so
    "init": "vault.cli.users",
    "config": "vault.cli.config",
    "secret": "vault.cli.secret",
    "submit": "vault.cli.archive",
    "fetch": "vault.cli.archive",
    "sync": "vault.cli.archive",
    "jobs": "vault.cli.jobs",
    "show": "vault.cli.jobs",
    "restore": "vault.cli.restore",
    "export": "vault.cli.jobs",
    "audit": "vault.cli.audit",
    "log": "vault.cli.log",
    "user": "vault.cli.users",
    "keygen": "vault.cli.users",
    "passwd": "vault.cli.users",
    "grant": "vault.cli.lifecycle",
    "revoke": "vault.cli.lifecycle",
    "erase": "vault.cli.lifecycle",
    "verify": "vault.cli.lifecycle",
    "backup": "vault.cli.lifecycle",
    "migrate": "vault.cli.lifecycle",
    "simulate": "vault.cli.simulate",
    "demo": "vault.cli.demo",
}


try:
    from click.parser import _normalize_opt, _OptionParser, _ParsingState
except ImportError:  # a click without these internals parses with its own parser, unchanged
    _ShortFirstParser: type[Any] | None = None
else:

    class _ShortFirstParser(_OptionParser):  # type: ignore[no-redef]
        """click's parser, which sends an option with one leading ``-`` and no long option
        of that name (``-j``, ``-vq``) to its short options directly.

        click's own parser first tries every option as a long one; for a short option that
        match fails by building a "no such option" error, whose "did you mean" suggestions
        import difflib and compare the option with every long one, and then drops the error
        and matches the short options: 5.3 M instructions for a restore's ``-j`` and ``-o``
        (bench/README.md, cold start). Same outcome, same errors (tests/test_cli_parser.py).
        """

        def _process_opts(self, arg: str, state: _ParsingState) -> None:
            if (
                arg[:2] not in self._opt_prefixes
                and _normalize_opt(arg.partition("=")[0], self.ctx) not in self._long_opt
            ):
                self._match_short_opt(arg, state)
                return
            super()._process_opts(arg, state)


def fast_short_options(parser: object) -> bool:
    """Whether ``parser`` (from ``make_parser``) is the short-options-first parser."""
    return _ShortFirstParser is not None and type(parser) is _ShortFirstParser


@contextlib.contextmanager
def passed_on() -> Iterator[None]:
    """An interrupt or an end of input, as errors click's main passes on.

    click's main turns an interrupt (Ctrl-C, or SIGTERM as ``Terminated``) or an end of input
    into ``Abort`` after printing an empty line: "aborted", exit 1, on two lines. As these
    errors they are one line: "interrupted", exit 130 (143 for SIGTERM), and "aborted", exit
    1. Wraps every command's parsing and the root group's invocation (and so every command's
    own work); a command that names what an interrupt left behind
    (``archive.pending_on_interrupt``) raises its own ``Interrupted`` first. An interrupt
    inside a task group (anyio, asyncio) arrives wrapped in an exception group."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    except EOFError:
        raise click.Abort() from None
    except BaseExceptionGroup as group:
        if group.subgroup(KeyboardInterrupt) is None:
            raise
        raise Interrupted("interrupted") from None


class _Parsing:
    """How every questa-vault command and group parses: with ``_ShortFirstParser`` where this
    click has the internals that parser builds on (else click's own), and a usage error the
    parser raises without a context (``Option '-j' requires an argument``) gets the command's,
    so its one line points at that command's help, not the top level's."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)  # type: ignore[misc]
        if (
            _ShortFirstParser is not None
            and type(parser) is _ShortFirstParser.__base__
            and isinstance(getattr(parser, "_long_opt", None), dict)
            and isinstance(getattr(parser, "_opt_prefixes", None), set)
        ):
            parser.__class__ = _ShortFirstParser
        return parser

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            with passed_on():  # an option's callback, prompt or environment variable may wait
                return super().parse_args(ctx, args)  # type: ignore[misc, no-any-return]
        except click.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = ctx
            raise


class Command(_Parsing, click.Command):
    """Every questa-vault command's class."""


class Group(_Parsing, click.Group):
    """Every questa-vault command group's class; its commands and sub-groups are ``Command``
    and ``Group``."""

    command_class = Command


Group.group_class = Group


class LazyGroup(Group):
    """A click group whose commands are imported on first use (see ``COMMANDS``); the
    modules register themselves on ``cli`` when imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Workflow order (set up, archive, read, audit, manage readers, maintain, try out),
        then any command registered elsewhere, by name."""
        return [*COMMANDS, *sorted(set(self.commands) - set(COMMANDS))]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # The group's own options are parsed by now, the group's callback has not run: a
        # command module that fails to import (a broken install, a bad edit) must still show
        # its traceback under -v.
        _run.verbose = ctx.params.get("verbose") or 0
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with passed_on():
            return super().invoke(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name])
        return self.commands.get(cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="questa-vault")
@click.option(
    "--vault",
    "vault_path",
    envvar="QUESTA_VAULT",
    help="Vault: a file path, or a postgresql:// URL without a password (env QUESTA_VAULT; "
    "default: a file in the user data directory).",
)
# The parameter is not named "user": click's default_map keys a group's options and its
# sub-commands in one table, and the settings file may hold both `user` and a `user` command's
# defaults.
@click.option(
    "--user",
    "acting_user",
    envvar="QUESTA_VAULT_USER",
    shell_complete=complete_users,
    help="Vault user (env QUESTA_VAULT_USER).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Read the passphrase from this file, '-' for stdin (else env QUESTA_VAULT_PASSPHRASE, "
    "else the OS keyring when enabled, else a prompt).",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Unlock a --public-key user with this private key file (made by keygen; '-' for "
    "stdin) instead of a passphrase.",
)
@click.option("-v", "--verbose", count=True, help="More detail (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and results.")
@click.pass_context
def cli(
    ctx: click.Context,
    vault_path: str | None,
    acting_user: str | None,
    passphrase_file: Path | None,
    key_file: Path | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Archive Questa AI anonymization results encrypted, restore originals, audit.

    \b
    Example:
      questa-vault init --user alice
      questa-vault fetch 550e8400-e29b-41d4-a716-446655440000
      questa-vault restore answer.txt -j 550e8400-e29b-41d4-a716-446655440000
    """
    _run.verbose = verbose
    _resume_collector()
    if _run.settings_error is not None and ctx.invoked_subcommand != "config":
        raise _run.settings_error
    name = ctx.invoked_subcommand
    if _run.settings is not None and name is not None and name != "config":
        # The command's own defaults, checked now that it is known (the sub-context reads
        # them from here when click creates it, after this callback).
        ctx.default_map = {
            **(ctx.default_map or {}),
            name: command_defaults(_run.settings, cli, name),
        }
    if is_dash(vault_path):
        raise click.UsageError(
            "--vault cannot be '-' (standard input/output): a vault is a file or a "
            "postgresql:// URL"
        )
    try:
        location = vault_location(vault_path) if vault_path else default_vault_path()
    except InputError:
        if name != "config":
            raise
        # `config` opens no vault: it still shows (redacted) and replaces a refused setting
        location = default_vault_path()
    ctx.obj = AppContext(
        vault_path=location,
        user=acting_user,
        verbose=verbose,
        quiet=quiet,
        passphrase_file=passphrase_file,
        key_file=key_file,
        settings=_run.settings,
    )


def _global_option_hint(exc: click.UsageError) -> str | None:
    """For a global option written after the command (``restore ... --passphrase-file F``):
    say where it goes instead of only "No such option"."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None or exc.ctx.parent is None:
        return None
    name = exc.option_name
    if not any(name in p.opts or name in p.secondary_opts for p in cli.params):
        return None
    command = exc.ctx.info_name or "COMMAND"
    return (
        f"{name} is a global option: put it before the command "
        f"(questa-vault {name}{'' if name in ('-v', '-q', '--verbose', '--quiet') else ' ...'} "
        f"{command} ...)"
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a service manager, a cancelled CI job) stops a command the way
    Ctrl-C does: the same one-line report of what is left pending, then exit 143."""


def _signal_module() -> Any:
    """``_signal``, the C module that ``signal`` wraps: the same calls, with plain ints for
    the handlers ``signal`` turns into enums, whose classes cost every command 3.5 M
    instructions to build (bench/README.md, cold start); ``signal`` where it is missing."""
    try:
        import _signal as signals  # type: ignore[import-not-found]
    except ImportError:  # an interpreter without it
        import signal as signals
    return signals


def _on_sigterm(signum: int, frame: object) -> None:
    if _run.terminated:
        # A second SIGTERM: the first is still unwinding, or was lost (raised where Python
        # can only print it, such as inside the import machinery, leaving the process
        # waiting). End the process now, as SIGTERM's default would: the vault stays
        # consistent as after a crash, and no output is linked before its log entry.
        signals = _signal_module()
        signals.signal(signals.SIGTERM, signals.SIG_DFL)
        os.kill(os.getpid(), signals.SIGTERM)
        return
    _run.terminated = True
    raise Terminated()


@contextlib.contextmanager
def built_in_defaults() -> Iterator[None]:
    """Commands run inside (the demo's, in-process) take the built-in defaults, not the
    settings file's (its ``json = true`` for ``jobs`` would change what the demo shows)."""
    saved = _run.settings
    _run.settings = None
    try:
        yield
    finally:
        _run.settings = saved


def sigterm_is_ours() -> bool:
    """Whether SIGTERM's handler is the default or ``run``'s, so a command may take it over
    (and put it back); a handler the process chose, or SIG_IGN, is left alone."""
    import signal

    return signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, _on_sigterm)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``Terminated`` while the command runs, unless the process already
    chose what SIGTERM does (an application that embeds ``run``)."""
    signals = _signal_module()
    previous: Any = None
    try:
        if signals.getsignal(signals.SIGTERM) == signals.SIG_DFL:
            previous = signals.signal(signals.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: signals are not ours to take
        previous = None
    if previous is None:
        yield
        return
    try:
        yield
    finally:
        signals.signal(signals.SIGTERM, previous)


# A group run without arguments: click 8.2+ raises its help as a usage error, which the
# one-line rule below would squeeze into one escaped line (click 8.1 prints it and exits 0).
_NO_ARGS_IS_HELP: type[click.UsageError] | tuple[()] = getattr(
    click.exceptions, "NoArgsIsHelpError", ()
)


def _interrupted_line(message: str) -> None:
    """The one line an interrupt ends with; on a terminal after a line break, as Ctrl-C
    leaves the cursor after the ``^C`` it echoed (or after a prompt)."""
    start = "\n" if not _run.terminated and _stderr_is_terminal() else ""
    echo(f"{start}questa-vault: {message}", err=True)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _interrupted_code(code: int) -> int:
    return 143 if _run.terminated and code == 130 else code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; the only place errors become exit codes."""
    _run.terminated = False
    with _sigterm_as_interrupt():
        try:
            return _run_cli(argv)
        except KeyboardInterrupt:  # before click's main (the settings file) or after it
            _interrupted_line("interrupted")
            return _interrupted_code(130)


def _run_cli(argv: list[str] | None) -> int:
    # Decided by the parsed option, not by argv text: "-j -v" or a file named "-v" is no -v.
    _run.verbose = 0
    _run.settings, _run.settings_error = None, None
    default_map: dict[str, Any] | None = None
    try:
        _run.settings = load(config_path(os.environ))
        check_command_names(_run.settings, COMMANDS)
        default_map = root_defaults(_run.settings)
    except ConfigError as exc:  # only `config` runs with a broken file (to show or fix it)
        _run.settings_error = exc
    try:
        cli.main(
            args=argv, prog_name="questa-vault", standalone_mode=False, default_map=default_map
        )
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        echo("questa-vault: aborted", err=True)
        return EXIT_ERROR
    except _NO_ARGS_IS_HELP as exc:  # a group run bare (click >= 8.2): its help, exit 2
        echo(exc.format_message(), err=True)
        return exc.exit_code
    except click.UsageError as exc:  # one line, like every other error; exit 2
        where = exc.ctx.command_path if exc.ctx is not None else "questa-vault"
        # click writes some messages on several lines (a choice's values, one per line)
        message = inert(" ".join(exc.format_message().split())).rstrip(".")
        hint = _global_option_hint(exc)
        if hint is not None:
            echo(f"questa-vault: {hint}", err=True)
        else:
            echo(f"questa-vault: {message} (see '{where} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Interrupted as exc:
        _interrupted_line(inert(str(exc)))
        return _interrupted_code(exc.exit_code)
    except VaultError as exc:
        echo(f"questa-vault: {inert(str(exc))}", err=True)
        return _interrupted_code(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted_line("interrupted")
        return _interrupted_code(130)
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # last line of defence: no traceback reaches a user
        if _run.verbose:
            raise
        # The message of a foreign exception could carry data; show only its type.
        echo(
            f"questa-vault: internal error ({type(exc).__name__}); rerun with -v for details",
            err=True,
        )
        return EXIT_ERROR
    return EXIT_OK
