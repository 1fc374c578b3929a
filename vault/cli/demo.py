"""``demo``: the whole flow on the built-in simulator and a temporary vault, narrated.

The demo runs the real commands (the same code paths a user's shell would) against a
simulator on a free loopback port and a vault in a temporary directory, printing each command
before it runs. Everything is removed afterwards. Key derivation uses fast settings here only
(the narration says so); real vaults use Argon2id with 64 MiB, 3 passes and 4 lanes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import click

from vault.api import Vault
from vault.cli._app import (
    AppContext,
    built_in_defaults,
    cli,
    color,
    pass_app,
    refuse_dash,
    simulator_extra,
)
from vault.cli._terminal import echo
from vault.errors import InputError

# Realistic but invented people (no real person's data).
_CSV = (
    "name,email,phone,city,note\r\n"
    'Maria Garcia,maria.garcia@example.org,+1 415 555 0134,Seattle,"Prefers e-mail, not calls"\r\n'
    "John Smith,john.smith@example.net,+1 206 555 0199,Portland,Renewal due 2026-03-01\r\n"
    'Priya Patel,priya.patel@example.com,+44 20 7946 0958,London,"Asked about ""premium"" plan"\r\n'
)
_TEXT = (
    "Support ticket: Maria Garcia (maria.garcia@example.org) called on 2026-11-02 about "
    "card 4111 1111 1111 1111. John Smith will call her back.\n"
)
_PLACEHOLDER = re.compile(r"\[([A-Z_]+)_(\d+)\]")
DEMO_USER = "analyst"
_FAST_KDF = ["--kdf-memory", "8192", "--kdf-passes", "1", "--kdf-lanes", "1", "--unsafe-kdf"]


class _Demo:
    """One narrated run: a temporary directory, a vault in it, a simulator URL."""

    def __init__(self, ctx: AppContext, workdir: Path, url: str) -> None:
        self.ctx = ctx
        self.workdir = workdir
        self.url = url
        self.vault = workdir / "vault.db"
        self.secret = workdir / "passphrase.txt"
        self.step_no = 0

    def step(self, title: str, *lines: str) -> None:
        self.step_no += 1
        echo("")
        click.secho(f"[{self.step_no}] {title}", bold=True, color=color())
        for line in lines:
            echo(f"    {line}")

    def run(self, *args: str) -> None:
        """Run one real command in-process, showing it as a user would type it."""
        shown = [a if not a.startswith(str(self.workdir)) else Path(a).name for a in args]
        click.secho("  $ questa-vault " + shlex.join(shown), fg="cyan", color=color())
        # The demo's own vault and user, whatever QUESTA_VAULT_USER or a settings file say.
        argv = [
            "--vault",
            str(self.vault),
            "--user",
            DEMO_USER,
            "--passphrase-file",
            str(self.secret),
            *args,
        ]
        # As typed at a terminal: whatever the demo's own stdin holds is not an answer.
        with open(os.devnull, "rb") as nothing:
            saved, sys.stdin = sys.stdin, io.TextIOWrapper(nothing)
            try:
                with built_in_defaults():
                    cli.main(args=argv, prog_name="questa-vault", standalone_mode=False)
            finally:
                sys.stdin = saved

    def jobs_by_type(self) -> dict[str, str]:
        with Vault.open(self.vault) as vault:
            return {job.file_type: job.job_id for job in vault.jobs(status="archived")}


def _llm_answer(anonymized: str) -> str:
    """A pretend LLM answer: real placeholders, one with its case changed, one invented."""
    seen = list(dict.fromkeys(m.group(0) for m in _PLACEHOLDER.finditer(anonymized)))
    person = next((p for p in seen if p.startswith("[PERSON_NAME_")), seen[0] if seen else "")
    email = next((p for p in seen if p.startswith("[EMAIL_ADDRESS_")), "")
    others = [p for p in seen if p not in (person, email)]
    return (
        f"Summary: {person} reported a card problem. Reply to {email.lower()} today.\n"
        f"Follow-up owner: {others[-1] if others else person}. "
        "Escalate to [PERSON_NAME_99] if unresolved.\n"
    )


@cli.command("demo")
@click.option(
    "--processing-time",
    type=click.FloatRange(0, 30),
    default=1.5,
    show_default=True,
    help="Seconds the simulated service takes per job.",
)
@click.option(
    "--keep",
    "keep",
    type=click.Path(path_type=Path, file_okay=False),
    callback=refuse_dash("it names a new directory"),
    help="Keep the vault and files in this new directory instead of deleting them.",
)
@pass_app
def demo_command(ctx: AppContext, processing_time: float, keep: Path | None) -> None:
    """Run the whole flow on the built-in simulator and a temporary vault, narrated.

    Starts the simulator on a free loopback port, creates a vault in a temporary directory,
    submits a CSV and a text with invented people, archives them, restores a pretend LLM
    answer, and shows the report, the audit table (and an HTML audit page) and the access log.
    Nothing is kept unless --keep DIR names a new directory for it.

    \b
    Example:
      questa-vault demo
      scripts/demo.sh
    """
    # Imported here, not at the top: the simulator brings starlette and uvicorn, an extra
    # that a plain install lacks and that no other command needs.
    with simulator_extra("demo"):
        from vault.simulator import SimulatorConfig, run_simulator

    started = time.monotonic()
    config = SimulatorConfig(processing_time=processing_time, progress_steps=5, seed=7)
    if keep is not None:
        try:
            keep.mkdir(mode=0o700, parents=True)
        except FileExistsError as exc:
            raise InputError(f"{keep} already exists; --keep needs a new directory") from exc
        except OSError as exc:
            raise InputError(f"cannot create {keep}: {exc.strerror}") from exc
    with (
        contextlib.nullcontext(str(keep))
        if keep is not None
        else tempfile.TemporaryDirectory(prefix="questa-vault-demo-") as tmp,
        run_simulator(config) as sim,
    ):
        workdir = Path(tmp)
        demo = _Demo(ctx, workdir, sim.url)
        demo.secret.write_text("demo passphrase, not a real secret\n", encoding="utf-8")
        demo.secret.chmod(0o600)
        (workdir / "customers.csv").write_text(_CSV, encoding="utf-8", newline="")
        (workdir / "ticket.txt").write_text(_TEXT, encoding="utf-8")

        demo.step(
            "A local stand-in of the Questa service is running.",
            f"simulator at {sim.url} (real HTTP on loopback; each job takes {processing_time} s)",
            "vault in a temporary directory, deleted at the end",
        )
        demo.step(
            "Create the vault and its first user.",
            "Fast key-derivation settings, for this demo only; real vaults use Argon2id 64 MiB.",
            "The passphrase comes from a file here; never from a command-line flag.",
        )
        demo.run("init", "--user", DEMO_USER, *_FAST_KDF)

        demo.step(
            "Submit a CSV and a text. Each job is recorded as pending the moment the",
            "service accepts it, then archived encrypted as soon as it finishes.",
        )
        demo.run(
            "submit",
            str(workdir / "customers.csv"),
            str(workdir / "ticket.txt"),
            "--api-url",
            sim.url,
        )
        demo.step("What the vault holds: metadata only, no passphrase needed.")
        demo.run("jobs")

        ids = demo.jobs_by_type()
        text_job, csv_job = ids["text"], ids["csv"]
        demo.step("The anonymized ticket, as the service returned it (this read is logged).")
        anonymized = workdir / "ticket.anonymized.txt"
        demo.run("export", text_job, "-o", str(anonymized))
        echo("    " + anonymized.read_text(encoding="utf-8").rstrip("\n"))

        answer = workdir / "answer.txt"
        answer.write_text(_llm_answer(anonymized.read_text(encoding="utf-8")), encoding="utf-8")
        demo.step(
            "An LLM answered with placeholders: one in the wrong case, one it invented.",
            *answer.read_text(encoding="utf-8").rstrip("\n").splitlines(),
        )
        demo.step(
            "Restore the originals. --lenient repairs the case change and counts it; the",
            "invented [PERSON_NAME_99] is reported with its line and column, never guessed.",
        )
        restored = workdir / "answer.restored.txt"
        demo.run(
            "restore",
            str(answer),
            "-j",
            text_job,
            "--lenient",
            "--allow-unresolved",
            "-o",
            str(restored),
        )
        for line in restored.read_text(encoding="utf-8").splitlines():
            echo(f"    {line}")

        demo.step("Restore the archived CSV itself: every byte outside restored cells is kept.")
        restored_csv = workdir / "customers.restored.csv"
        demo.run("restore", "-j", csv_job, "-o", str(restored_csv))
        same = restored_csv.read_bytes() == (workdir / "customers.csv").read_bytes()
        echo(f"    byte-identical to the original upload: {'yes' if same else 'NO'}")

        demo.step("Audit: entity counts per job and type, without a key.")
        demo.run("audit")
        demo.step(
            "The same audit as one self-contained HTML page with charts (no network, no script)."
        )
        # -q: the page only (the table is the one just shown)
        page = workdir / "audit.html"
        demo.run("-q", "audit", "--html", str(page))
        echo(f"    wrote {page.name} ({page.stat().st_size:,} bytes)")
        demo.step(
            "The access log: who fetched, exported and restored what; verify checks its hash "
            "chain and the vault's structure."
        )
        demo.run("log")
        demo.run("verify")
    echo("")
    kept = f"kept in {keep}" if keep is not None else "the temporary vault is gone"
    echo(f"Done in {time.monotonic() - started:.1f} s; {kept}.")
    if keep is not None:
        echo(
            f"Open the kept vault with: questa-vault --vault {keep / 'vault.db'} "
            f"--passphrase-file {keep / 'passphrase.txt'} jobs"
        )
    echo("Next: questa-vault init, then submit/fetch against your service (docs/quickstart.md).")
