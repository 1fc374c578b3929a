"""``questa-vault simulate``: run the local stand-in of the Questa API in the foreground."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from vault.cli._app import (
    AppContext,
    cli,
    is_dash,
    pass_app,
    read_stdin_secret,
    sigterm_is_ours,
    simulator_extra,
)
from vault.cli._terminal import echo, reason
from vault.config import RETENTION_SECONDS
from vault.errors import InputError

if TYPE_CHECKING:
    from vault.simulator import SimulatorConfig

TOKENS_ENV = "QUESTA_SIM_TOKENS"

# The simulator finds names by fixed lists, not by a model: say so before anyone trusts it.
NAME_DETECTION_NOTE = (
    "Note: names and organizations are detected from fixed built-in lists, not by a model; "
    "invented or rare names pass through un-anonymized."
)


def read_sim_tokens(token_file: Path | None) -> tuple[str, ...]:
    """Accepted tokens: one per line of ``token_file`` (``#`` comments and blank lines
    skipped), else env QUESTA_SIM_TOKENS (separated by commas or whitespace), else none."""
    if token_file is not None:
        try:
            if is_dash(token_file):
                text = read_stdin_secret("--token-file").decode("utf-8")
            else:
                text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read token file {token_file}: {reason(exc)}") from exc
        tokens = tuple(
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        )
        if not tokens:
            raise InputError(f"no token in {'stdin' if is_dash(token_file) else token_file}")
        return tokens
    return tuple(t for t in re.split(r"[\s,]+", os.environ.get(TOKENS_ENV, "")) if t)


_RATE = click.FloatRange(0.0, 1.0)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help=f"Accepted bearer tokens, one per line, '-' for stdin (else env {TOKENS_ENV}; none: "
    "no auth).",
)
@click.option(
    "--processing-time",
    type=click.FloatRange(min=0.0),
    default=2.0,
    show_default=True,
    help="Seconds from upload to completed (or failed).",
)
@click.option(
    "--progress-steps",
    type=click.IntRange(0, 99),
    default=4,
    show_default=True,
    help="Progress values shown while processing.",
)
@click.option(
    "--retention",
    type=click.FloatRange(min=0.0),
    default=float(RETENTION_SECONDS),  # the service's one hour, the simulator's default too
    show_default=True,
    help="Seconds a finished job stays available before status answers 404.",
)
@click.option(
    "--failure-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of jobs that end as failed.",
)
@click.option(
    "--error-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of /anonymize/* requests answered 500.",
)
@click.option(
    "--drop-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Share of /anonymize/* requests whose connection is closed without an answer.",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Seconds added to every /anonymize/* request.",
)
@click.option(
    "--rate-limit/--no-rate-limit",
    default=False,
    show_default=True,
    help="30 counted requests per minute per token, then 429 with Retry-After.",
)
@click.option(
    "--request-cap/--no-request-cap",
    default=False,
    show_default=True,
    help="1,000 counted requests per token, then 403.",
)
@click.option("--seed", type=int, help="Seed for failures, faults and job ids (reproducible runs).")
@pass_app
def simulate(
    app: AppContext,
    host: str,
    port: int,
    token_file: Path | None,
    processing_time: float,
    progress_steps: int,
    retention: float,
    failure_rate: float,
    error_rate: float,
    drop_rate: float,
    latency: float,
    rate_limit: bool,
    request_cap: bool,
    seed: int | None,
) -> None:
    """Run a local simulator of the Questa AI API until Ctrl-C.

    Every endpoint, status code and error body of the service, with jobs that really
    anonymize CSV and text. Prints the base URL on stdout; point --api-url at it.

    \b
    Example:
      QUESTA_SIM_TOKENS=demo-token questa-vault simulate --port 8765 --processing-time 1
      curl -s -H 'Authorization: Bearer demo-token' localhost:8765/anonymize/entities
    """
    if error_rate + drop_rate > 1.0:
        raise click.BadParameter("--error-rate plus --drop-rate must not exceed 1")
    # Imported here, not at the top: the simulator brings starlette and uvicorn, an extra
    # that a plain install lacks and that no other command needs.
    with simulator_extra("simulate"):
        from vault.simulator import SimulatorConfig, run_simulator

    config = SimulatorConfig(
        tokens=read_sim_tokens(token_file),
        processing_time=processing_time,
        progress_steps=progress_steps,
        retention=retention,
        failure_rate=failure_rate,
        error_rate=error_rate,
        drop_rate=drop_rate,
        latency=latency,
        rate_limit=rate_limit,
        request_cap=request_cap,
        seed=seed,
    )
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    with run_simulator(config, host=host, port=port) as sim:
        # SIGTERM stops the simulator cleanly, unless the process chose what it does (an
        # application that embeds ``run``, or an inherited SIG_IGN): as ``run`` leaves it.
        in_main = threading.current_thread() is threading.main_thread()
        ours = in_main and sigterm_is_ours()
        previous = signal.signal(signal.SIGTERM, on_term) if ours else None
        echo(f"Questa API simulator listening on {sim.url}")
        if host not in ("127.0.0.1", "localhost", "::1") and not config.tokens:
            app.say(
                f"warning: listening on {host} without a token: anyone who can reach this "
                "machine can submit files and read every map (use --token-file)"
            )
        app.say(_summary(config))
        app.say(NAME_DETECTION_NOTE)
        app.say("Press Ctrl-C to stop.")
        try:
            while sim.running and not stopping.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    app.say("simulator stopped")


def _summary(config: SimulatorConfig) -> str:
    auth = f"{len(config.tokens)} token(s)" if config.tokens else "none (self-hosted)"
    limits = [
        name
        for name, on in (("30/min", config.rate_limit), ("1000-request cap", config.request_cap))
        if on
    ]
    faults = [
        f"{name} {value:g}"
        for name, value in (
            ("failures", config.failure_rate),
            ("5xx", config.error_rate),
            ("drops", config.drop_rate),
        )
        if value
    ]
    if config.latency:
        faults.append(f"latency {config.latency:g}s")
    return (
        f"auth: {auth}; jobs take {config.processing_time:g}s in "
        f"{config.progress_steps} steps and are kept {config.retention:g}s; "
        f"limits: {', '.join(limits) or 'off'}; faults: {', '.join(faults) or 'none'}"
    )
