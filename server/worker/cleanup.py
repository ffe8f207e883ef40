"""Removes what a worker killed outright (SIGKILL, a crash) left behind: work dirs and cgroups.

Each backend's sandbox work directory holds an `owner` file with its process id; a directory
whose owner is gone is removed. Sandbox cgroups carry no owner, so only empty ones older than a
minute are removed (a live sandbox enrols in its group milliseconds after creating it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from .cgroups import CgroupManager

log = logging.getLogger(__name__)

WORK_ROOT_PREFIX = "ckpt-sandboxes-"
OWNER_FILE = "owner"


def new_work_root() -> Path:
    """A fresh, traversable (0711) directory for one backend's sandboxes, marked with our pid."""
    root = Path(tempfile.mkdtemp(prefix=WORK_ROOT_PREFIX))
    (root / OWNER_FILE).write_text(str(os.getpid()))
    root.chmod(0o711)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_work_roots(parent: Path | None = None) -> list[Path]:
    removed = []
    for root in Path(parent or tempfile.gettempdir()).glob(WORK_ROOT_PREFIX + "*"):
        try:
            pid = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if not _alive(pid):
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
    return removed


def sweep_cgroups(manager: CgroupManager, min_age_s: float = 60.0) -> list[Path]:
    removed = []
    now = time.time()
    for base in manager.bases.values():
        for group in base.glob("ckpt-sbx-*"):
            with contextlib.suppress(OSError, ValueError):
                if (group / "cgroup.procs").read_text().strip():
                    continue
                if now - group.stat().st_mtime < min_age_s:
                    continue
                group.rmdir()
                removed.append(group)
    return removed


def sweep_orphans(manager: CgroupManager | None = None, *, cgroup_min_age_s: float = 60.0,
                  parent: Path | None = None) -> None:
    roots = sweep_work_roots(parent)
    groups = sweep_cgroups(manager, cgroup_min_age_s) if manager else []
    if roots or groups:
        log.warning("removed what dead workers left: %d work dirs, %d cgroups",
                    len(roots), len(groups))
