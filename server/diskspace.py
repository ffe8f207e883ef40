"""A full disk, recognised wherever it surfaces: an `OSError` (ENOSPC, EDQUOT) from a file
write, or SQLite's "database or disk is full" through the driver or SQLAlchemy."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: what the server and its workers say when they cannot write
MESSAGE = ("the server's disk is full, so it cannot record this right now; nothing that was "
           "already stored is lost: try again once space is freed (GET /readyz shows the free "
           "space)")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it wraps or was raised from, says the disk is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if "disk is full" in str(exc) or "No space left on device" in str(exc):
            return True
        orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        if isinstance(orig, BaseException) and is_disk_full(orig):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_bytes(path: Path) -> tuple[int, int] | None:
    """(free, total) bytes of the filesystem holding `path` (its nearest existing parent),
    or None where that cannot be read."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                usage = shutil.disk_usage(candidate)
            except OSError:
                return None
            return usage.free, usage.total
    return None
