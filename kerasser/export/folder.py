"""Atomic replacement of an export folder, and clean-up after killed exports.

An export is built in a temporary folder beside its target (``.NAME.tmp-PID-*``) and moved into
place only when complete. An existing export is replaced in one step where the OS can swap two
paths (Linux ``renameat2(RENAME_EXCHANGE)``; Python has no portable call for it), else by two
renames, the old folder kept as ``.NAME.old-PID-*`` until the new one is in place. Either way a
crash never leaves a half-written export at the target; ``remove_stale`` deletes what killed
exports left beside it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import uuid
from pathlib import Path

from kerasser import contract
from kerasser.errors import ExportError


def staging_dir(out: Path) -> Path:
    """A new empty folder beside ``out`` to build its replacement in (``.NAME.tmp-PID-*``),
    after removing what killed exports left there."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # like mkdtemp, but with the usual permissions (mkdtemp's are 0700)
    return tmp


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False
    where the OS or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_dir(new: Path, target: Path) -> None:
    """Move the complete folder ``new`` to ``target``, replacing an existing ``target`` only
    once ``new`` is in place (the old folder is then deleted)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old export
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(target, backup)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Delete what killed exports into ``out`` left beside it (``.NAME.tmp-PID-*`` and
    ``.NAME.old-PID-*`` of processes that no longer run); returns the folders removed."""
    removed = []
    if not out.parent.is_dir():
        return removed
    for path in out.parent.glob(f".{out.name}.*-*-*"):
        kind, _, rest = path.name[len(out.name) + 2 :].partition("-")
        pid = rest.split("-")[0]
        if kind in ("tmp", "old") and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError("exists and is not a folder", path=out)
    if out.is_dir() and any(out.iterdir()) and not (out / contract.METADATA_FILE).is_file():
        raise ExportError("a folder that is not a kerasser export is there; not replacing it", path=out)
