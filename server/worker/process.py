"""One single-use sandbox process: start it, wait until it is warm, run one job, tear it down.

The sandbox speaks newline-delimited JSON on a dedicated control pipe (`{"kind": "ready"}`, then
`event`s, then one `result`); stdout and stderr are only drained, capped and kept for messages,
so nothing the snippet prints can pass for a result. Nothing crossing the boundary is unpickled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ckpt_core.errors import SandboxError

from ..redact import crash_excerpt
from .sandbox import SandboxConfig, command, sandbox_env
from .seccomp import filter_fd

log = logging.getLogger(__name__)

#: (stage, message) from the sandbox
EventSink = Callable[[str, str], None]


class _Tail:
    """Drains one pipe on a thread, keeping only its last bytes and counting all of them."""

    def __init__(self, fd: int, keep: int, on_total: Callable[[], None]) -> None:
        self.buf = bytearray()
        self.total = 0
        self._keep, self._on_total = keep, on_total
        self.thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self.thread.start()

    def _drain(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, 65536):
                self.total += len(chunk)
                self.buf += chunk
                del self.buf[: max(0, len(self.buf) - self._keep)]
                self._on_total()
        os.close(fd)

    def text(self) -> str:
        return self.buf.decode("utf-8", "replace")


#: niceness of sandboxes while they warm up in the pool
WARMING_NICENESS = 19


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants, read from /proc (sandboxes live in their own pid namespace,
    but the host sees every process)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: the ppid follows the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task") if t.isdigit()]
    except OSError:
        return []


def raise_priority(root: int) -> None:
    """Back to normal priority for a sandbox about to run its job: every thread of every one of
    its processes (Linux keeps a niceness per thread, and torch's intra-op threads started
    while the sandbox warmed). Needs privilege (the worker runs as root to drop into the
    sandbox user); without it the sandbox simply stays nice."""
    for pid in _process_tree(root):
        for tid in _threads(pid):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, 0)


class Sandbox:
    """A started sandbox. `run()` may be called once; `kill()` is always safe."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=config.work_root))
        ids = config.ids() if config.isolate else None
        if ids is not None:
            os.chown(self.job_dir, *ids)
        self.job_dir.chmod(0o700)
        self.cgroup = config.cgroups.create() if config.cgroups else None
        self._killed = False
        self._lock = threading.Lock()
        self._over_output = False
        seccomp = filter_fd() if config.isolate else None
        ctl_r, ctl_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        keep_fds = [ctl_w] + ([seccomp] if seccomp is not None else [])
        try:
            argv = command(config, self.job_dir, seccomp,
                           self.cgroup.procs_files if self.cgroup else [])
            # a sandbox warming up (importing torch, a warm-up compile) must not take CPU from
            # the job running beside it: it starts at the lowest priority and is raised when it
            # is handed its own job (see `run`)
            nice = shutil.which("nice")
            if nice is not None:
                argv = [nice, "-n", str(WARMING_NICENESS), *argv]
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=out_w, stderr=err_w,
                env=sandbox_env(config, ctl_w), pass_fds=tuple(keep_fds),
                start_new_session=True, close_fds=True, cwd=str(self.job_dir),
            )
        except OSError as e:
            for fd in (ctl_r, out_r, err_r):
                os.close(fd)
            self.kill()
            raise SandboxError(f"could not start the sandbox: {e}") from e
        finally:
            for fd in (ctl_w, out_w, err_w, *([seccomp] if seccomp is not None else [])):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._ctl: int = ctl_r
        self._ctl_buf = bytearray()
        self._ctl_total = 0
        self._output_cap = config.limits.output_bytes
        self.stdout = _Tail(out_r, 8192, self._check_output)
        self.stderr = _Tail(err_r, 8192, self._check_output)
        self.started_at = time.monotonic()

    def _check_output(self) -> None:
        if self.stdout_total() > self._output_cap and not self._over_output:
            self._over_output = True
            self.kill()

    def stdout_total(self) -> int:
        total = 0
        for t in ("stdout", "stderr"):
            tail = getattr(self, t, None)
            total += tail.total if tail else 0
        return total

    # -- control pipe -----------------------------------------------------------------------

    def _read_messages(self, timeout: float) -> list[dict[str, Any]] | None:
        """Messages that arrived within `timeout`; None at end of file."""
        sel = selectors.DefaultSelector()
        sel.register(self._ctl, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                return []
        finally:
            sel.close()
        chunk = os.read(self._ctl, 1 << 20)
        if not chunk:
            return None
        self._ctl_total += len(chunk)
        if self._ctl_total > self.config.limits.result_bytes:
            raise _Limit(f"the result exceeded {self.config.limits.result_bytes} bytes")
        self._ctl_buf += chunk
        msgs = []
        while (nl := self._ctl_buf.find(b"\n")) >= 0:
            line = bytes(self._ctl_buf[:nl])
            del self._ctl_buf[: nl + 1]
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not ours: the snippet wrote to the pipe itself
            if isinstance(msg, dict):
                msgs.append(msg)
        return msgs

    def wait_ready(self) -> None:
        """Block until the sandbox has imported torch and waits for its job."""
        deadline = self.started_at + self.config.limits.startup_s
        while (left := deadline - time.monotonic()) > 0:
            msgs = self._read_messages(min(left, 1.0))
            if msgs is None:
                raise SandboxError("the sandbox exited while starting: " + self.describe_exit())
            if any(m.get("kind") == "ready" for m in msgs):
                return
        self.kill()
        raise SandboxError(f"the sandbox did not start within {self.config.limits.startup_s} s")

    def alive(self) -> bool:
        return self.proc.poll() is None and not self._killed

    # -- the one job ------------------------------------------------------------------------

    def run(self, job: dict[str, Any], on_event: EventSink, should_cancel: Callable[[], bool],
            timeout_s: float, tick: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """Run one job; return the `result` message's payload: {"result": …} or {"error": …}.
        Raises SandboxError for anything the sandbox did not report itself; `_Cancelled`."""
        try:
            assert self.proc.stdin is not None
            raise_priority(self.proc.pid)
            try:
                self.proc.stdin.write(json.dumps(job).encode())
                self.proc.stdin.close()
            except OSError as e:
                raise SandboxError("the sandbox died before it took the job: "
                                   + self.describe_exit()) from e
            deadline = time.monotonic() + timeout_s
            while True:
                if should_cancel():
                    raise Cancelled
                if time.monotonic() > deadline:
                    raise SandboxError(f"the job ran past its time limit of {timeout_s:g} s "
                                       "and was stopped")
                if self._over_output:
                    raise SandboxError(f"the snippet wrote more than {self._output_cap} bytes "
                                       "to stdout/stderr and was stopped")
                tick()
                msgs = self._read_messages(0.25)
                if msgs is None:
                    raise SandboxError("the sandbox exited before returning a result: "
                                       + self.describe_exit())
                for m in msgs:
                    if m.get("kind") == "event":
                        on_event(str(m.get("stage", "")), str(m.get("message", ""))[:500])
                    elif m.get("kind") == "result":
                        # tear down off the critical path: the answer is already here
                        threading.Thread(target=self.dispose, daemon=True).start()
                        return {k: m.get(k) for k in ("result", "error")}
        except _Limit as e:
            self.dispose()
            raise ResultTooLarge(str(e)) from e
        except BaseException:
            self.dispose()
            raise

    def describe_exit(self) -> str:
        # the control pipe closed: let the process finish dying on its own to learn why
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        oom = self.cgroup is not None and not self._killed and self.cgroup.oom_killed()
        self.kill()  # removes the cgroup: read its OOM record first
        rc = self.proc.returncode
        if self._over_output:
            why = f"it wrote more than {self._output_cap} bytes to stdout/stderr"
        elif oom:
            why = f"it ran out of memory (limit {self.config.limits.memory_bytes >> 20} MiB)"
        elif rc is not None and (rc < 0 or rc > 128):
            num = -rc if rc < 0 else rc - 128
            try:
                name = signal.Signals(num).name
            except ValueError:
                name = f"signal {num}"
            why = f"it was killed by {name}"
            if name == "SIGKILL" and self.cgroup is None:
                why += " (perhaps out of memory)"
            elif name == "SIGXCPU":
                why += " (CPU time limit)"
            elif name == "SIGXFSZ":
                why += f" (file size limit {self.config.limits.file_bytes} bytes)"
        else:
            why = f"it exited with status {rc}"
        self.stderr.thread.join(timeout=1)
        tail = self.stderr.text().strip()
        if tail:  # operators get all of it; the user only what concerns their snippet
            log.warning("sandbox %s; its stderr ended with:\n%s", why, tail[-4000:])
        excerpt = crash_excerpt(tail[-8000:])
        return why + (f"; its last words:\n{excerpt}" if excerpt else "")

    def kill(self) -> None:
        """Kill every process of the sandbox and remove its directory and cgroups."""
        with self._lock:
            first = not self._killed
            self._killed = True
        proc = getattr(self, "proc", None)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if first:
            if self.cgroup is not None:
                self.cgroup.remove()
            shutil.rmtree(self.job_dir, ignore_errors=True)

    def dispose(self) -> None:
        """Kill, then close the control pipe (only from the thread that reads it)."""
        self.kill()
        if self._ctl >= 0:
            with contextlib.suppress(OSError):
                os.close(self._ctl)
            self._ctl = -1


class Cancelled(Exception):
    """The job was cancelled while it ran."""


class ResultTooLarge(SandboxError):
    """The sandbox sent more than the result cap allows."""


class _Limit(Exception):
    """A cap on what the sandbox may send was exceeded."""

