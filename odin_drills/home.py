"""Where odin keeps its state: ``$ODIN_HOME`` (default ``~/.odin``), readable by its owner only.

::

    $ODIN_HOME/                     0700
      prefect/                      PREFECT_HOME of the local Prefect server odin starts
      server.json                   pid, port and URL of that server
      migrations/<plan>/current     id of the plan's latest migration
      migrations/<plan>/<id>/       journal.jsonl, baseline.json, report.md, report.html
      drills/<plan>/<id>/           journal.jsonl, scorecard.json, report.md, report.html
      drills/<plan>.jsonl           the plan's drill history

Journals, baselines and reports name hosts, resource ids, decisions and who made them: state
is written through :func:`private_dir`, :func:`write_private` and :func:`open_private`, so folders
are ``0700`` and files ``0600`` whatever the caller's umask (a shared ``umask 022`` machine would
otherwise make every journal world-readable). Processes odin starts to write state here (the
Prefect server, the sandbox) run with :data:`PRIVATE_UMASK`.
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
"""For child processes that write state under ``$ODIN_HOME`` (``subprocess.Popen(umask=...)``)."""


def _tighten(path: Path, mode: int) -> None:
    """``chmod`` to ``mode`` when the path is ours and looser; someone else's folder is left alone."""
    with suppress(OSError):
        info = path.stat()
        if info.st_uid == os.getuid() and (info.st_mode & 0o777) != mode:
            path.chmod(mode)


def odin_home() -> Path:
    """``$ODIN_HOME``, created ``0700`` (and tightened to it when it exists and is ours)."""
    home = Path(os.environ.get("ODIN_HOME") or Path.home() / ".odin").expanduser()
    if not home.exists():
        home.mkdir(parents=True, mode=PRIVATE_DIR_MODE, exist_ok=True)
    _tighten(home, PRIVATE_DIR_MODE)
    return home


def private_dir(path: str | Path) -> Path:
    """``path`` and every folder made for it ``0700``; below ``$ODIN_HOME`` every folder from the
    home down is tightened too, so state an older odin left at ``0755`` is closed on next use."""
    path = Path(path)
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        with suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        _tighten(folder, PRIVATE_DIR_MODE)
    home = Path(os.environ.get("ODIN_HOME") or Path.home() / ".odin").expanduser().resolve()
    with suppress(ValueError):
        current = home
        for part in path.resolve().relative_to(home).parts:
            current = current / part
            _tighten(current, PRIVATE_DIR_MODE)
        _tighten(home, PRIVATE_DIR_MODE)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def migrations_dir(plan_name: str) -> Path:
    return private_dir(odin_home() / "migrations" / plan_name)


def drills_dir(plan_name: str | None = None) -> Path:
    """``$ODIN_HOME/drills`` (the history lives there) or one plan's drill folders."""
    root = odin_home() / "drills"
    return private_dir(root / plan_name if plan_name else root)


def open_private(path: str | Path, mode: str = "a", encoding: str | None = "utf-8") -> IO[Any]:
    """Open ``path`` for writing (``a``, ``w``, ``ab``, ``wb``), creating it ``0600``; an existing
    file is tightened to ``0600``. Symlinks are not followed: state is never written through one."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_APPEND if mode.startswith("a") else os.O_TRUNC
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | Path, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically (a temporary ``0600`` file renamed over it), so a
    crash never leaves half a file and the file is never readable by others, even for a moment."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    with open_private(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return path
