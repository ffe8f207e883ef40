"""A trusted in-process job backend: runs each analysis in a child Python process, no sandbox.

Used only when asked for with `CKPT_BACKEND=local` (trusted snippets on your own machine) and by
tests. State lives in memory: after a restart the API re-submits unfinished jobs.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ckpt_core.errors import ErrorDoc, SandboxError
from server.jobs import JobEvent, JobOutcome, JobSpec, Stage
from server.redact import crash_excerpt

log = logging.getLogger("ckpt.server")

#: A job that runs longer than this is killed and reported failed.
JOB_TIMEOUT_S = 900.0


class LocalBackend:
    """`JobBackend` running jobs through `server.app.local_runner` in child processes."""

    def __init__(self, pool_size: int = 1, timeout_s: float = JOB_TIMEOUT_S,
                 queue_deadline_s: float = 900.0) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, pool_size),
                                        thread_name_prefix="ckpt-local-job")
        self._lock = threading.Lock()
        self._events: dict[str, list[JobEvent]] = {}
        self._outcomes: dict[str, JobOutcome] = {}
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._cancelled: set[str] = set()
        self._timeout_s = timeout_s
        self._queue_deadline_s = queue_deadline_s
        self._pool_size = max(1, pool_size)
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, job_id: str, stage: Stage, progress: float, message: str = "") -> None:
        with self._lock:
            self._events.setdefault(job_id, []).append(
                JobEvent(job_id, stage, progress, message, time.time()))
        for listener in self._listeners:
            try:
                listener(job_id)
            except Exception:  # a reader's bug must not fail the job being recorded
                log.exception("job-change listener failed for %s", job_id)

    def submit(self, spec: JobSpec) -> None:
        self._emit(spec.job_id, "queued", 0.0, "waiting for a free runner")
        self._pool.submit(self._run, spec, time.monotonic())

    def forget(self, job_id: str) -> None:
        with self._lock:
            if job_id not in self._outcomes:
                self._cancelled.add(job_id)
            self._events.pop(job_id, None)
            self._outcomes.pop(job_id, None)

    def purge_finished(self, older_than_s: float) -> int:
        return 0  # results are forgotten when delivered; nothing here outlives the process

    def queue_consumers(self) -> dict[str, list[str]]:
        """Runs jobs of either device in child processes on this host."""
        names = [f"local-{i}" for i in range(self._pool_size)]
        return {"cpu": names, "cuda": names}

    def queue_pending(self) -> dict[str, int]:
        with self._lock:
            waiting = sum(1 for events in self._events.values() if events[-1].stage == "queued")
        return {"cpu": waiting}

    def _run(self, spec: JobSpec, queued_at: float) -> None:
        if spec.job_id in self._cancelled:
            return
        waited_s = time.monotonic() - queued_at
        if waited_s > self._queue_deadline_s:
            self._finish(spec.job_id, None, _sandbox_error(
                f"no runner took this job within the queue deadline ({self._queue_deadline_s:g}"
                f" s; it waited {waited_s:.0f} s); it failed without running: submit it again"))
            return
        self._emit(spec.job_id, "starting", PROGRESS["starting"], "starting a Python process")
        payload = json.dumps({"source": spec.source, "settings": spec.settings,
                              "snippet_name": spec.snippet_name, "options": spec.options})
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.app.local_runner"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with self._lock:
            self._procs[spec.job_id] = proc
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(self._timeout_s, stop)
        timer.start()
        last = ""
        try:
            if proc.stdin is None or proc.stdout is None or proc.stderr is None:
                raise RuntimeError("the runner's pipes were not opened")
            errors: list[str] = []
            # stderr drains on its own thread: a chatty compile must not fill its pipe and
            # block the runner while stdout is being read
            drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()
                                                                  if proc.stderr else ""),
                                     daemon=True)
            drain.start()
            proc.stdin.write(payload)
            proc.stdin.close()
            for line in proc.stdout:  # the runner's stage lines, as they happen
                last = line if line.strip() else last
                event = _event_of(line)
                if event is not None:
                    self._emit(spec.job_id, event[0], PROGRESS[event[0]], event[1])
            proc.wait()
            drain.join()
            stderr = "".join(errors)
        finally:
            timer.cancel()
            with self._lock:
                self._procs.pop(spec.job_id, None)
        if spec.job_id in self._cancelled:
            return
        if timed_out.is_set():
            self._finish(spec.job_id, None, _sandbox_error(
                f"the analysis took longer than {self._timeout_s:.0f} s and was stopped"))
            return
        try:
            out = json.loads(last)
            if not isinstance(out, dict) or not ({"result", "error"} & set(out)):
                raise ValueError("the process ended before its answer")  # e.g. os._exit
        except ValueError:
            log.warning("analysis process of job %s died; stderr:\n%s", spec.job_id,
                        stderr[-4000:])
            why = crash_excerpt(stderr[-8000:]) or f"exit status {proc.returncode}"
            self._finish(spec.job_id, None, _sandbox_error(f"the analysis process died: {why}"))
            return
        if out.get("result") is not None:  # a failure stays on the stage that failed
            self._emit(spec.job_id, "storing", PROGRESS["storing"], "storing the result")
        self._finish(spec.job_id, out.get("result"), out.get("error"))

    def _finish(self, job_id: str, result: dict[str, Any] | None,
                error: ErrorDoc | None) -> None:
        with self._lock:
            self._outcomes[job_id] = JobOutcome(job_id, result, error)
        self._emit(job_id, "done" if result is not None else "failed", 1.0)

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        with self._lock:
            return list(self._events.get(job_id, [])[after:])

    def outcome(self, job_id: str) -> JobOutcome | None:
        with self._lock:
            return self._outcomes.get(job_id)

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            if job_id in self._outcomes:
                return False
            self._cancelled.add(job_id)
            proc = self._procs.get(job_id)
        if proc is not None:
            proc.kill()
        self._emit(job_id, "cancelled", 1.0, "cancelled")
        return True

    def close(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            proc.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)


#: progress shown for each stage (as the sandboxed worker reports them)
PROGRESS: dict[str, float] = {
    "starting": 0.1, "tracing": 0.25, "partitioning": 0.5, "analysing": 0.8, "storing": 0.95,
}


def _event_of(line: str) -> tuple[Stage, str] | None:
    """(stage, message) of a runner's `{"event": …}` line, else None."""
    if not line.startswith('{"event"'):
        return None
    try:
        event = json.loads(line)["event"]
    except (ValueError, KeyError, TypeError):
        return None
    stage = event.get("stage")
    if stage not in PROGRESS:
        return None
    return stage, str(event.get("message", ""))


def _sandbox_error(message: str) -> ErrorDoc:
    return SandboxError(message).to_dict()
