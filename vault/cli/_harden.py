"""Process hardening for commands that handle a passphrase or unlock a key.

A core dump of a process that unlocked a user holds the passphrase, the private key and any
originals it read. Before the first secret is read, ``harden_process`` sets the core-file
limit to zero (soft and hard, so the process cannot raise it again) and, on Linux, marks the
process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``), which also keeps other processes of
the same user from attaching a debugger or reading its memory through ``/proc``. Where the
OS offers neither, nothing happens: hardening is best effort and never an error.
``ctypes`` and ``resource`` load when a command hardens, not with every command (cold start).
"""

from __future__ import annotations

import contextlib
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def harden_process() -> None:
    """No core dumps and (Linux) not dumpable, from now on; idempotent."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        resource = None  # type: ignore[assignment]
    if resource is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def is_dumpable() -> bool | None:
    """Whether the process may dump core (Linux); ``None`` where it cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return None
