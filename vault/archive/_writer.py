"""Group commit: the vault writes of a run, off the event loop's thread, several per commit.

Every write of a fetch, submit or sync run (storing a finished job, recording a pending one,
marking one expired) goes through one ``Writer``. A write is queued and awaited; one drain
task takes everything queued so far and runs it in a worker thread inside ONE write
transaction of the target (``target.batch()``), so a whole batch costs one commit with its
``fsync`` instead of one per job, and the event loop keeps polling while the disk works.
Batches form by themselves: the jobs that finish while one batch is being committed make up
the next (at most ``MAX_BATCH``).

Nothing about durability changes: a write is reported done (its outcome returned) only after
its transaction has committed with the vault's full synchronous commit; a crash before that
leaves the job as it was (pending or unknown), and the service still holds it, so the next
``sync``/``fetch`` archives it. Each job stays atomic: when any write of a batch fails, the
whole batch is rolled back and each write is run again alone in its own transaction, so one
job's failure is that job's outcome and never half of anyone's.

A target without ``batch()`` (any object with the ``ArchiveTarget`` methods) gets one
transaction per write, still in the worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

T = TypeVar("T")

MAX_BATCH = 64  # writes per transaction at most: bounds the time the write lock is held

_Item = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class _Abort(Exception):
    """Raised inside the batch transaction to roll it back after a write failed."""


class Writer:
    """The run's single writer (see the module docstring). Use ``async with``: leaving waits
    for a batch in flight, so the target is never closed under a running transaction."""

    def __init__(self, target: object, *, max_batch: int = MAX_BATCH) -> None:
        self._target = target
        self._max_batch = max_batch
        self._queue: list[_Item] = []
        self._drain: asyncio.Task[None] | None = None
        self._warm: asyncio.Future[None] | None = None

    async def write(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one vault write) in the next batch; its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            # The thread finishes its transaction even if this task is cancelled meanwhile
            # (a run stopped by ApiAuthError or Ctrl-C): asyncio.run waits for it.
            try:
                results = await asyncio.to_thread(self._commit, [fn for fn, _ in batch])
            except BaseException as exc:  # cancelled, or broken beyond one write: nobody waits
                for _, future in [*batch, *self._queue]:  # forever for an answer
                    if future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
                self._queue.clear()
                raise
            for (_, future), (ok, value) in zip(batch, results, strict=True):
                if future.done():  # its job was cancelled
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _transaction(self) -> AbstractContextManager[Any]:
        batch = getattr(self._target, "batch", None)
        return batch() if callable(batch) else contextlib.nullcontext()

    def _commit(self, fns: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        """In the worker thread: all of ``fns`` in one transaction, or, when one fails (or the
        commit does), each in its own: ``(True, result)`` or ``(False, exception)`` per write."""
        if len(fns) > 1:
            with contextlib.suppress(Exception):  # _Abort, or the commit failed: rolled back
                return self._all(fns)
        return [self._one(fn) for fn in fns]

    def _all(self, fns: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        with self._transaction():
            for fn in fns:
                try:
                    results.append((True, fn()))
                except Exception as exc:
                    raise _Abort from exc
        return results

    def _one(self, fn: Callable[[], T]) -> tuple[bool, Any]:
        try:
            with self._transaction():
                return True, fn()
        except Exception as exc:
            return False, exc

    async def __aenter__(self) -> Writer:
        # While the first requests are in flight, load what storing a job needs (the
        # cryptography library: a few hundred ms on a cold start), so that the first batch
        # does not take that long and gather every job answered meanwhile.
        self._warm = asyncio.get_running_loop().run_in_executor(None, _warm_up)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._warm is not None:
            with contextlib.suppress(Exception):
                await self._warm
        drain = self._drain
        if drain is not None and not drain.done():
            # Let the batch in flight commit before the caller may close the target.
            # (A cancellation of the caller still propagates; the thread finishes regardless.)
            with contextlib.suppress(Exception):
                await asyncio.shield(drain)


def _warm_up() -> None:
    """Import the primitives ``store_job`` uses (``vault.crypto`` loads them on first use)."""
    import vault.crypto as crypto

    for name in ("new_dek", "seal_dek", "job_keys", "compute_seal", "canonical"):
        getattr(crypto, name, None)
