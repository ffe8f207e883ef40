"""Per-sandbox cgroups: memory and process-count limits where the host lets us create them.

cgroup v2 is preferred (one group, `cgroup.kill`); on hybrid hosts whose v2 hierarchy lacks the
controllers, the v1 `memory` and `pids` hierarchies are used. Where neither can be written the
manager reports why and the sandbox relies on rlimits and its pid namespace alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(fstype, mount point, super options) of every cgroup mount."""
    out: list[tuple[str, str, set[str]]] = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            parts, rparts = left.split(), right.split()
            if len(rparts) >= 3 and rparts[0] in ("cgroup", "cgroup2"):
                out.append((rparts[0], parts[4], set(rparts[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    out: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    return out


def _base(mount: str, path: str) -> Path:
    nested = Path(mount) / path.lstrip("/")
    return nested if nested.is_dir() else Path(mount)


def _probe(base: Path) -> str | None:
    """None when a child group can be created and removed under `base`, else why not."""
    probe = base / f"ckpt-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        return f"cannot create a cgroup under {base}: {e.strerror}"
    return None


@dataclass
class JobCgroup:
    """One sandbox's groups: `procs_files` are where the sandbox's first process enrols itself."""

    dirs: list[Path]
    v2: bool
    memory_dir: Path | None

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                out.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        return out

    def kill(self) -> None:
        """SIGKILL everything in the group (v2 `cgroup.kill`, else one process at a time)."""
        if self.v2:
            with contextlib.suppress(OSError):
                (self.dirs[0] / "cgroup.kill").write_text("1")
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.memory_dir / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        if not self.v2:
            with contextlib.suppress(OSError, ValueError):
                return int((self.memory_dir / "memory.failcnt").read_text()) > 0
        return False

    def remove(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@dataclass
class CgroupManager:
    """Decides once how limits can be enforced here; `create()` makes one sandbox's groups."""

    memory_bytes: int
    pids_max: int
    kind: str = "none"  # "v2", "v1" or "none"
    bases: dict[str, Path] = field(default_factory=dict)
    reason: str = ""

    @classmethod
    def detect(cls, memory_bytes: int, pids_max: int) -> CgroupManager:
        mgr = cls(memory_bytes, pids_max)
        own = _own_paths()
        mounts = _mounts()
        problems: list[str] = []
        for fstype, mnt, _opts in mounts:
            if fstype != "cgroup2":
                continue
            base = _base(mnt, own.get("", "/"))
            ctrls = set((base / "cgroup.controllers").read_text().split()) if (
                base / "cgroup.controllers").exists() else set()
            if not {"memory", "pids"} <= ctrls:
                problems.append(f"cgroup v2 at {mnt} lacks the memory/pids controllers")
                continue
            try:
                (base / "cgroup.subtree_control").write_text("+memory +pids")
            except OSError as e:
                problems.append(f"cannot delegate memory/pids under {base}: {e.strerror}")
                continue
            why = _probe(base)
            if why is None:
                mgr.kind, mgr.bases = "v2", {"v2": base}
                return mgr
            problems.append(why)
        for ctrl in ("memory", "pids"):
            for fstype, mnt, opts in mounts:
                if fstype == "cgroup" and ctrl in opts:
                    base = _base(mnt, own.get(ctrl, "/"))
                    why = _probe(base)
                    if why is None:
                        mgr.bases[ctrl] = base
                    else:
                        problems.append(why)
                    break
        if mgr.bases:
            mgr.kind = "v1"
        mgr.reason = "; ".join(problems) if problems else "no cgroup hierarchy is mounted"
        return mgr

    def describe(self) -> str:
        if self.kind == "v2":
            return f"cgroup v2 memory+pids under {self.bases['v2']}"
        if self.kind == "v1":
            return "cgroup v1 " + "+".join(sorted(self.bases)) + (
                "" if len(self.bases) == 2 else f" (not enforced: {self.reason})")
        return f"none ({self.reason})"

    def create(self) -> JobCgroup | None:
        if self.kind == "none":
            return None
        name = f"ckpt-sbx-{uuid.uuid4().hex[:12]}"
        if self.kind == "v2":
            d = self.bases["v2"] / name
            d.mkdir()
            (d / "memory.max").write_text(str(self.memory_bytes))
            with contextlib.suppress(OSError):  # absent without swap accounting
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(self.pids_max))
            return JobCgroup([d], True, d)
        dirs: list[Path] = []
        memory_dir = None
        if "memory" in self.bases:
            memory_dir = self.bases["memory"] / name
            memory_dir.mkdir()
            (memory_dir / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            dirs.append(memory_dir)
        if "pids" in self.bases:
            p = self.bases["pids"] / name
            p.mkdir()
            (p / "pids.max").write_text(str(self.pids_max))
            dirs.append(p)
        return JobCgroup(dirs, False, memory_dir)
