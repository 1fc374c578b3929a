"""No output of the tool follows a symlink onto another file (issue 11, point 7).

For every file the CLI writes, a symlink is planted where the output (or an SQLite sidecar of
it) will go, pointing at a victim file. Afterwards the victim must be byte for byte what it
was: the output either replaced the link with a file of its own (temporary file + rename) or
was refused because something exists there (exclusive creation).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

JOB = "job-a"
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
VICTIM = b"the victim's own bytes\n"


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(
            sample_job(JOB, mapping={"John Doe": "[PERSON_NAME_1]"}, content=b"[PERSON_NAME_1]\n"),
            actor="alice",
        )
    return isolated_env


def _answer(tmp_path: Path) -> str:
    path = tmp_path / "answer.txt"
    path.write_bytes(b"Dear [PERSON_NAME_1] [PERSON_NAME_9]\n")
    return str(path)


# name -> (argv given the output path and tmp_path, how the output is written)
REPLACING: dict[str, Callable[[Path, Path], list[str]]] = {
    # -o refuses an existing name without --force (issue 16); with it, the link is replaced.
    "restore -o": lambda out, t: ["restore", _answer(t), "-j", JOB, "-o", str(out),
                                  "--allow-unresolved", "--force"],
    "restore --report": lambda out, t: ["restore", _answer(t), "-j", JOB, "-o",
                                        str(t / "r.txt"), "--report", str(out),
                                        "--allow-unresolved", "--force"],
    "export -o": lambda out, t: ["export", JOB, "-o", str(out), "--force"],
    "audit --html": lambda out, t: ["audit", "--html", str(out), "--force"],
}  # fmt: skip
EXCLUSIVE: dict[str, Callable[[Path, Path], list[str]]] = {
    "backup": lambda out, t: ["backup", str(out)],
    "keygen -o": lambda out, t: ["keygen", "-o", str(out)],
    "init --vault": lambda out, t: ["--vault", str(out), "init", "--user", "bob", *FAST_KDF],
    # without --force, a replacing output refuses like an exclusive one
    "restore --report (no --force)": lambda out, t: [
        "restore",
        _answer(t),
        "-j",
        JOB,
        "-o",
        str(t / "r.txt"),
        "--report",
        str(out),
    ],
    "restore -o (no --force)": lambda out, t: ["restore", _answer(t), "-j", JOB, "-o", str(out)],
    "export -o (no --force)": lambda out, t: ["export", JOB, "-o", str(out)],
}


def _plant(tmp_path: Path, name: str) -> tuple[Path, Path]:
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir(exist_ok=True)
    victim.write_bytes(VICTIM)
    link = tmp_path / name
    link.symlink_to(victim)
    return link, victim


@pytest.mark.parametrize("case", sorted(REPLACING))
def test_a_symlink_at_the_output_is_replaced_not_followed(
    vault: Path, tmp_path: Path, case: str
) -> None:
    link, victim = _plant(tmp_path, "out.file")
    result = invoke(REPLACING[case](link, tmp_path), env=ENV)
    assert result.exit_code in (0, 3), result.output
    assert victim.read_bytes() == VICTIM
    assert not link.is_symlink() and link.is_file()
    assert os.stat(link).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("case", sorted(EXCLUSIVE))
@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_at_an_exclusive_output_is_refused(
    vault: Path, tmp_path: Path, case: str, dangling: bool
) -> None:
    link, victim = _plant(tmp_path, "out.file")
    if dangling:  # a link to a file that does not exist yet: creating it would follow the link
        victim.unlink()
    result = invoke(EXCLUSIVE[case](link, tmp_path), env=ENV)
    assert result.exit_code == 1, result.output
    assert "exists" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_bytes() == VICTIM
    assert link.is_symlink()


@pytest.mark.parametrize("sidecar", ["-journal", "-wal", "-shm"])
def test_sqlite_sidecars_of_a_backup_are_not_followed(
    vault: Path, tmp_path: Path, sidecar: str
) -> None:
    target = tmp_path / "copy.db"
    link, victim = _plant(tmp_path, f"copy.db{sidecar}")
    result = invoke(["backup", str(target)], env=ENV)
    # The copy is made in a private directory; checking it at its place then opens it there,
    # and SQLite refuses a linked sidecar rather than follow it: the backup fails closed.
    assert result.exit_code in (0, 5), result.output
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 1
    assert victim.read_bytes() == VICTIM
    assert link.is_symlink()


# ----------------------------------------------------------------- devices, FIFOs, sockets


def _special_nodes(tmp_path: Path) -> dict[str, Path]:
    """Nodes an output must never replace: a FIFO, a Unix socket, links to them, and (as root,
    which CI is) a private character device like /dev/null."""
    import socket
    import stat

    nodes = {"fifo": tmp_path / "fifo"}
    os.mkfifo(nodes["fifo"])
    sock = socket.socket(socket.AF_UNIX)
    nodes["socket"] = tmp_path / "sock"
    sock.bind(str(nodes["socket"]))
    sock.close()
    if os.geteuid() == 0:
        nodes["device"] = tmp_path / "null"
        os.mknod(nodes["device"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    nodes["link to fifo"] = tmp_path / "link"
    nodes["link to fifo"].symlink_to(nodes["fifo"])
    return nodes


@pytest.mark.parametrize("case", sorted(REPLACING))
def test_a_device_fifo_or_socket_is_never_replaced_even_with_force(
    vault: Path, tmp_path: Path, case: str
) -> None:
    if os.geteuid() != 0:
        import warnings

        warnings.warn("device-node case not run: mknod needs root (CI runs as root)", stacklevel=1)
    for name, node in _special_nodes(tmp_path).items():
        before = os.lstat(node)
        result = invoke(REPLACING[case](node, tmp_path), env=ENV)
        if name == "device" and case == "restore -o":
            # A null device is restore's sink (test_restore_to_the_null_device_...): written
            # to as a stream, still never replaced.
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, (name, result.output)
            assert "never replaced" in result.stderr and result.stderr.count("\n") == 1, name
        after = os.lstat(node)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), name


def test_restore_to_the_null_device_writes_only_the_report_and_logs_first(
    vault: Path, tmp_path: Path
) -> None:
    """`-o /dev/null --report FILE`: the null device is a sink, so nothing is exposed by
    writing to it; the release is logged as any restore is, and /dev/null stays the device.
    Descriptor paths (/dev/stdout) and other devices stay refused."""
    import json

    from custody_kit import raw_db

    null_link = tmp_path / "discard"
    null_link.symlink_to(os.devnull)
    before = os.stat(os.devnull)
    for n, target in enumerate([Path(os.devnull), null_link]):
        report = tmp_path / f"rep{n}.json"
        args = ["restore", _answer(tmp_path), "-j", JOB, "-o", str(target)]
        result = invoke([*args, "--report", str(report), "--allow-unresolved"], env=ENV)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert json.loads(report.read_text())["restored"] >= 0
        after = os.stat(os.devnull)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode, before.st_ino, before.st_rdev,
        )  # fmt: skip
    with raw_db(vault) as db:
        logged = db.execute("SELECT count(*) FROM access_log WHERE action = 'restore'").fetchone()
    assert logged == (2,)
    refused = invoke(["restore", _answer(tmp_path), "-j", JOB, "-o", "/dev/stdout"], env=ENV)
    assert refused.exit_code == 1 and "never replaced" in refused.stderr


def test_the_atomic_output_itself_refuses_a_special_node_at_commit(tmp_path: Path) -> None:
    """The check runs again at the rename (a node put in place after the CLI's check)."""
    from vault.errors import InputError
    from vault.restore import AtomicOutput

    target = tmp_path / "out"
    with AtomicOutput(target, replace=True) as out:
        out.file.write(b"John Doe")
        os.mkfifo(target)
        with pytest.raises(InputError, match="never replaced"):
            out.commit()
    assert not target.is_file()


@pytest.mark.parametrize("spelling", ["link", "proc", "devfd"])
def test_a_path_to_a_file_descriptor_is_never_replaced(tmp_path: Path, spelling: str) -> None:
    """``-o /dev/stdout --force`` with standard output redirected to a regular file (cron,
    CI, ``> out.txt``): /dev/stdout links to /proc/self/fd/1, which links to that regular
    file, and the output replaced /dev/stdout itself. Here the link is one of the test's
    own (the system's /dev/stdout is never put at risk): a link to /proc/self/fd/N open on a
    regular file, and the descriptor paths themselves. Refused, one line, nothing replaced."""
    from vault.errors import InputError
    from vault.restore import refuse_special

    redirected = tmp_path / "redirected.txt"
    with open(redirected, "wb") as stream:
        fd = stream.fileno()
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{fd}")
        target = {"link": link, "proc": Path(f"/proc/self/fd/{fd}"),
                  "devfd": Path(f"/dev/fd/{fd}")}[spelling]  # fmt: skip
        with pytest.raises(InputError, match="file descriptor"):
            refuse_special(target)
        assert link.is_symlink() and os.readlink(link) == f"/proc/self/fd/{fd}"
    for name in ("/dev/stdout", "/dev/stderr", "/dev/stdin"):
        with pytest.raises(InputError, match="file descriptor"):
            refuse_special(Path(name))
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    refuse_special(plain)  # a regular file is still replaced (with --force)
    (tmp_path / "to-plain").symlink_to(plain)
    refuse_special(tmp_path / "to-plain")


@pytest.mark.parametrize("case", sorted(REPLACING))
def test_a_link_to_a_descriptor_on_a_regular_file_is_never_replaced_even_with_force(
    vault: Path, tmp_path: Path, case: str
) -> None:
    """Every replacing output, through the CLI: the link (standing in for /dev/stdout under
    ``> out.txt``) stays, and the file the descriptor is open on stays empty."""
    redirected = tmp_path / "redirected.txt"
    with open(redirected, "wb") as stream:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{stream.fileno()}")
        result = invoke(REPLACING[case](link, tmp_path), env=ENV)
        assert result.exit_code == 1, result.output
        assert "file descriptor" in result.stderr and result.stderr.count("\n") == 1
        assert link.is_symlink()
    assert redirected.read_bytes() == b""
