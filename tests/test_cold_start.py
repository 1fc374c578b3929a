"""Cold start: ``import vault`` and ``questa-vault --version`` load no heavy library, and the
commands that only read metadata load no network stack. Each case runs a fresh interpreter
and inspects its ``sys.modules``. (The timings are in ``bench/bench_startup.py``.)"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from custody_kit import PASSPHRASE, new_vault, sample_job

import vault
import vault.archive
import vault.audit
import vault.client
import vault.crypto
import vault.custody
import vault.lifecycle
import vault.placeholders
import vault.restore
import vault.store

NETWORK = {"httpx", "asyncio", "anyio", "h11", "httpcore"}
HEAVY = NETWORK | {"sqlite_utils", "sqlite3", "cryptography", "rich"}
# What reading metadata (jobs, show, log, audit --summary) needs none of: besides the
# network stack, cryptography, the document readers, the placeholder matcher (it compiles its
# patterns at import), lifecycle, the settings file's parser when there is no file,
# the prompt's terminal module and the process hardening's ctypes.
METADATA_FREE = {
    "sqlite_utils",
    "cryptography",
    "defusedxml",
    "pypdf",
    "vault.placeholders._matcher",
    "vault.placeholders._lenient",
    "vault.lifecycle._verify",
    "vault.lifecycle._migrate",
    "tomllib",
    "termios",
    "ctypes",
    # Found from the environment on Linux; tempfile, shutil, bz2 and lzma come with it.
    "platformdirs",
    "tempfile",
    # The store's copier and maintenance (backup, migrate, vacuum) and the client's response
    # validation load with the commands that use them.
    "vault.store._copy",
    "vault.store._maintenance",
    "vault.client._validate",
    # click's shell completion loads on a tab press (the completion callbacks import it).
    "click.shell_completion",
}
# What restoring a text answer needs none of: the network stack, the document readers (zip,
# XML, PDF), cryptography's key-file serialization (PEM, SSH, PKCS#12) and its OpenSSL
# backend object (RSA, EC: raw X25519 keys load without it), rich without a terminal, the
# lenient scanner in a strict restore, the audit queries, the per-user directories' library,
# the CSV and JSON processors (and csv: a .txt answer's format is decided by its name), and the
# standard hashlib/hmac (SHA-256 and HMAC come from cryptography's OpenSSL, loaded anyway;
# _hashlib would load the system's OpenSSL as a second library).
RESTORE_TEXT_FREE = {
    "vault.restore._csvfmt",
    "vault.restore._csvfields",
    "vault.restore._jsonfmt",
    "csv",
    "hashlib",
    "_hashlib",
    "hmac",
    "cryptography.hazmat.backends",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.kdf.scrypt",
    # AES-GCM comes from the binding cryptography's ciphers.aead re-exports, without the
    # ciphers package (its modes and algorithms).
    "cryptography.hazmat.primitives.ciphers",
    "vault.placeholders._lenient",
    "vault.store._audit",
    "vault.store._listing",
    "vault.store._copy",
    "vault.store._maintenance",
    "vault.client._validate",
    "platformdirs",
    "tempfile",
    "vault.documents",
    "vault.restore._containers",
    "zipfile",
    "defusedxml",
    "pypdf",
    "cryptography.hazmat.primitives.serialization",
    "rich",
    "vault.lifecycle._verify",
    # The parser's short options need no "did you mean" (vault.cli._app._ShortFirstParser);
    # SIGTERM's handler is set through _signal, without signal's enums.
    "difflib",
    "signal",
}

_PROBE = """
import json, sys
out = sys.argv[1]
args = json.loads(sys.argv[2])
if args is None:
    import vault
    code = 0
else:
    from vault.cli import run
    code = run(args)
loaded = sorted(set(sys.modules) | {name.split(".")[0] for name in sys.modules})
with open(out, "w") as f:
    json.dump({"code": code, "loaded": loaded}, f)
"""


def _loaded(tmp_path: Path, args: list[str] | None, env: dict[str, str] | None = None) -> set[str]:
    out = tmp_path / "probe.json"
    subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), json.dumps(args)],
        check=True,
        capture_output=True,
        timeout=60,
        env=env,
    )
    result = json.loads(out.read_text())
    assert result["code"] == 0
    return set(result["loaded"])


@pytest.mark.parametrize("args", [None, ["--version"]], ids=["import", "version"])
def test_import_and_version_load_no_heavy_library(tmp_path: Path, args: list[str] | None) -> None:
    heavy = _loaded(tmp_path, args) & HEAVY
    assert not heavy, f"{args or 'import vault'} loaded {sorted(heavy)}"


@pytest.mark.parametrize(
    "args",
    [["jobs"], ["jobs", "--json"], ["audit", "--summary"], ["show", "job-1"], ["log"]],
    ids=["jobs", "jobs-json", "audit-summary", "show", "log"],
)
def test_metadata_commands_load_no_network_stack(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "vault.db"
    with new_vault(path) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    heavy = _loaded(tmp_path, ["--vault", str(path), *args]) & (NETWORK | METADATA_FREE)
    assert not heavy, f"{args} loaded {sorted(heavy)}"


def test_restoring_a_text_answer_loads_no_document_reader_or_key_file_code(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vault.db"
    with new_vault(path) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    answer = tmp_path / "answer.txt"
    answer.write_text("Dear [PERSON_NAME_1], noted.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
    env["QUESTA_VAULT_PASSPHRASE"] = PASSPHRASE
    args = ["--vault", str(path), "restore", str(answer), "-j", "job-1", "-o", str(tmp_path / "o")]
    loaded = _loaded(tmp_path, args, env)
    assert "vault.restore._engine" in loaded  # the probe did restore
    heavy = loaded & (NETWORK | RESTORE_TEXT_FREE)
    assert not heavy, f"restore of text loaded {sorted(heavy)}"


def _type_checking_names(package: ModuleType) -> set[str]:
    """Names imported under ``if TYPE_CHECKING:`` in the package's ``__init__``."""
    tree = ast.parse(Path(str(package.__file__)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    names.update(alias.asname or alias.name for alias in sub.names)
    return names


@pytest.mark.parametrize(
    "package",
    [
        vault,
        vault.client,
        vault.archive,
        vault.crypto,
        vault.custody,
        vault.audit,
        vault.restore,
        vault.lifecycle,
        vault.placeholders,
        vault.store,
    ],
    ids=lambda p: p.__name__,
)
def test_lazy_exports_match_all_and_the_type_checking_imports(package: ModuleType) -> None:
    public = set(package.__all__) - {"__version__"}
    assert _type_checking_names(package) == public
    for name in public:
        assert getattr(package, name) is not None, name
    assert public <= set(dir(package))


def test_the_command_freezes_the_collector_before_the_interpreter_exits() -> None:
    """``main`` moves the objects into the permanent generation once the command is done, so
    the collections at interpreter exit do not walk every imported module's objects again."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
        "sys.argv = ['questa-vault', '--version']\n"
        "from vault.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    frozen = int(done.stderr.split("frozen ")[1].split()[0])
    assert frozen > 10_000, done.stderr


@pytest.mark.parametrize(
    ("argv", "resumed"),
    [(["config", "path"], [[True, True]]), (["--version"], [])],
    ids=["a-command", "version"],
)
def test_the_console_script_pauses_the_collector_for_start_up_only(
    argv: list[str], resumed: list[list[bool]], tmp_path: Path
) -> None:
    """``vault.__main__.main`` (the console script) pauses the cyclic collector (importing the
    module does not); the group's callback, where the command's own work begins, freezes what
    start-up made and resumes it. A run that never reaches the callback (``--version``)
    resumes it at the end."""
    probe = (
        "import atexit, gc, sys\n"
        "import vault.__main__ as entry\n"
        "imported = gc.isenabled()\n"
        "import click\n"
        "def group_main(self, *args, _main=click.Group.main, **kwargs):\n"
        "    paused.append(not gc.isenabled())\n"
        "    return _main(self, *args, **kwargs)\n"
        "paused = []\n"
        "click.Group.main = group_main\n"
        "import vault.cli._app as app\n"
        "resume, seen = app._resume_collector, []\n"
        "def watch():\n"
        "    frozen = gc.get_freeze_count()\n"
        "    resume()\n"
        "    seen.append([gc.isenabled(), gc.get_freeze_count() > frozen])\n"
        "app._resume_collector = watch\n"
        "atexit.register(lambda: print('probe', imported, paused, seen, gc.isenabled(),\n"
        "                              file=sys.stderr))\n"
        f"sys.argv = ['questa-vault', *{argv!r}]\n"
        "entry.main()\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.split("probe ")[1].strip() == f"True [True] {resumed} True", done.stderr


def test_run_leaves_an_embedding_applications_collector_as_it_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gc

    from vault.cli import run

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    assert run(["config", "path"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    assert capsys.readouterr().out.strip().endswith("config.toml")
