"""How the archive commands report: outcome lines, the progress bar, JSON shapes,
expiry warnings, and the exit code 3 for work left undone. Printing lives here so that
``archive.py`` stays a list of commands."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from vault.archive import ExpiryWarning, SubmitOutcome
from vault.cli._app import AppContext
from vault.cli._terminal import echo, inert
from vault.errors import Incomplete
from vault.models import FetchOutcome


class Reporter:
    """Outcome lines on stdout, a progress bar on a terminal's stderr, a summary at the end."""

    def __init__(self, ctx: AppContext, total: int, *, as_json: bool, label: str) -> None:
        self.ctx = ctx
        self.as_json = as_json
        self.counts: Counter[str] = Counter()
        self.total = total
        show_bar = total > 0 and not ctx.quiet and sys.stderr.isatty()
        self.progress: Progress | None = None
        self.uploads: dict[Path, TaskID] = {}
        if show_bar:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Reporter:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def uploaded(self, path: Path, sent: int, total: int) -> None:
        """An upload's progress: one byte-counting bar per file being sent (terminal only)."""
        if self.progress is None:
            return
        # A file reports after every read, so also once more at its end (the empty read at
        # EOF), and again from 0 when a retry sends it afresh: a finished file's bar is
        # removed *and forgotten*, a report for a file with no bar that is already at its
        # end draws nothing, and a retry gets a new bar.
        task = self.uploads.get(path)
        if task is None:
            if sent >= total:
                return
            task = self.progress.add_task(f"sending {inert(path.name)}", total=total)
            self.uploads[path] = task
        self.progress.update(task, completed=sent, total=total)
        if sent >= total:
            del self.uploads[path]
            self.progress.remove_task(task)

    def line(self, outcome: str, text: str) -> None:
        self.counts[outcome] += 1
        if self.progress is not None:
            self.progress.advance(self.task)
        if self.as_json:
            return
        if self.progress is not None and sys.stdout.isatty():
            self.progress.console.print(inert(text), markup=False, highlight=False, soft_wrap=True)
        else:
            echo(text)

    def fetched(self, outcome: FetchOutcome) -> None:
        self.line(outcome.outcome, outcome_line(outcome.outcome, outcome.job_id, outcome.detail))

    def submitted(self, outcome: SubmitOutcome) -> None:
        text = outcome_line(
            outcome.outcome, outcome.job_id or "-", f"{outcome.file}: {outcome.detail}"
        )
        self.line(outcome.outcome, text)

    def summary(self, noun: str = "job") -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        total = sum(self.counts.values())
        return f"{total} {noun}{'' if total == 1 else 's'}: {parts}" if total else f"no {noun}s"


def outcome_line(outcome: str, job_id: str, detail: str) -> str:
    return inert(f"{outcome:<16} {job_id}  {detail}".rstrip())


def counts_of(kinds: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(kinds).items()))


def finish(ok: Sequence[bool], what: str) -> None:
    failed = sum(1 for x in ok if not x)
    if failed:
        noun = "job" if len(ok) == 1 else "jobs"
        raise Incomplete(f"{failed} of {len(ok)} {noun} did not {what}")


def fetch_json(o: FetchOutcome) -> dict[str, Any]:
    return {"job_id": o.job_id, "outcome": o.outcome, "ok": o.ok, "detail": o.detail}


def _minutes(seconds: float) -> str:
    return f"{max(1, round(abs(seconds) / 60))} min"


def warn(warning: ExpiryWarning) -> None:
    if warning.seconds_left > 0:
        text = (
            f"warning: job {warning.job_id} is still pending and may expire in about "
            f"{_minutes(warning.seconds_left)} (estimated from its submit time); sync again soon"
        )
    else:
        text = (
            f"warning: job {warning.job_id} is still pending {_minutes(warning.seconds_left)} "
            "past its estimated expiry; it may already be lost"
        )
    echo(text, err=True)
