"""Runs one dequeued job: claim it, take a warm sandbox, relay events, record one outcome."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from typing import Any

from ckpt_core import validate_analysis
from ckpt_core.errors import AnalysisError, CkptError, ErrorDoc, SandboxError

from ..diskspace import is_disk_full
from .pool import SandboxPool
from .process import Cancelled, ResultTooLarge
from .state import JobState

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
#: how often a finished job retries storing its result on a full disk
DISK_FULL_RETRY_S = 2.0


def cancelled_error() -> ErrorDoc:
    return ErrorDoc(type="SandboxError", code="cancelled", message="the job was cancelled",
                    line=None)


class JobRunner:
    """Executes job specs (as dicts, the queue's JSON) on sandboxes from one pool."""

    def __init__(self, state: JobState, pool: SandboxPool, *, max_timeout_s: float) -> None:
        self.state = state
        self.pool = pool
        self.max_timeout_s = max_timeout_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stopping = False

    def stop(self) -> None:
        """Stop the running job (it fails with a reason) and warm no more sandboxes."""
        self._stopping = True
        self.pool.close()

    def execute(self, spec: dict[str, Any]) -> None:
        job_id = str(spec["job_id"])
        if not self.state.claim(job_id, self.owner):
            log.info("job %s skipped: claimed by %s", job_id, self.state.claimed_by(job_id))
            return
        self.state.heartbeat(job_id)
        try:
            self._run(job_id, spec)
        except Cancelled:
            if self._stopping:
                err = SandboxError("the worker was shut down while the job ran")
                self.state.finish(job_id, "failed", error=err.to_dict(), message=err.message)
                return
            self.state.finish(job_id, "cancelled", error=cancelled_error(),
                              message="cancelled while running; its sandbox was killed")
        except CkptError as e:
            self.state.finish(job_id, "failed", error=e.to_dict(), message=e.message[:500])
        except Exception as e:
            log.exception("job %s: worker error", job_id)
            err = SandboxError(f"the worker failed ({type(e).__name__}); the details are in "
                               "the worker's log")
            self.state.finish(job_id, "failed", error=err.to_dict(), message=err.message)

    def _run(self, job_id: str, spec: dict[str, Any]) -> None:
        state = self.state
        if state.cancel_requested(job_id):
            raise Cancelled
        state.append_event(job_id, "starting", "taking a warm sandbox")
        deadline = time.monotonic() + self.pool.config.limits.startup_s
        sandbox = None
        while sandbox is None:
            # wait in short steps so the heartbeat and cancel keep working while a pool warms
            left = deadline - time.monotonic()
            try:
                sandbox = self.pool.take(timeout=min(max(left, 0.1), 2.0))
            except SandboxError:
                if left <= 0:
                    raise
                state.heartbeat(job_id)
                if state.cancel_requested(job_id):
                    raise Cancelled from None
        timeout = float(spec.get("options", {}).get("timeout_s") or self.max_timeout_s)
        timeout = min(timeout, self.max_timeout_s)
        last_beat = [time.monotonic()]

        def tick() -> None:
            if time.monotonic() - last_beat[0] >= HEARTBEAT_S:
                last_beat[0] = time.monotonic()
                try:
                    state.heartbeat(job_id)
                except Exception:  # a full disk must not kill a job that runs fine
                    log.warning("job %s: heartbeat not recorded", job_id, exc_info=True)

        reported: set[str] = set()

        def on_event(stage: str, message: str) -> None:
            # each stage once: the snippet shares the pipe and could otherwise flood the store
            if stage in ("tracing", "partitioning", "analysing") and stage not in reported:
                reported.add(stage)
                state.append_event(job_id, stage, message)  # type: ignore[arg-type]

        job = {k: spec.get(k) for k in ("job_id", "source", "settings", "snippet_name",
                                        "device", "options")}
        def should_stop() -> bool:
            return self._stopping or state.cancel_requested(job_id)

        budgets = spec.get("options", {}).get("sweep_budgets")
        try:
            reply = sandbox.run(job, on_event, should_stop, timeout, tick)
        except ResultTooLarge as e:
            if budgets is None:
                raise
            raise SandboxError(f"{e.message}: a sweep returns one complete analysis per "
                               f"budget ({len(budgets)} here); sweep fewer budgets at a "
                               "time") from e
        finally:
            self.pool.release()
        error, result = reply.get("error"), reply.get("result")
        if isinstance(error, dict):
            err = sanitize_error(error)
            state.finish(job_id, "failed", error=err, message=str(err["message"])[:500])
            return
        if not isinstance(result, dict):
            raise SandboxError("the sandbox returned neither a result nor an error")
        check_result(result, None if budgets is None else [float(b) for b in budgets])
        state.append_event(job_id, "storing", "storing the analysis")
        self._finish_when_stored(job_id, result)

    def _finish_when_stored(self, job_id: str, result: dict[str, Any]) -> None:
        """Record the result, waiting while the disk is full (the job stays "storing", with
        heartbeats whenever they can be written) rather than lose a finished analysis."""
        while True:
            try:
                self.state.finish(job_id, "done", result=result, message="done")
                return
            except Exception as e:
                if not is_disk_full(e) or self._stopping:
                    raise
                log.warning("job %s: disk full, retrying to store its result", job_id)
            time.sleep(DISK_FULL_RETRY_S)
            with contextlib.suppress(Exception):
                self.state.heartbeat(job_id)


def check_result(result: dict[str, Any], budgets: list[float] | None) -> None:
    """Never trust the sandbox's documents: an analysis, or for a sweep `{"analyses": [...]}`
    with one valid analysis per budget, in order, each made at its budget."""
    docs: list[Any] = [result]
    if budgets is not None:
        if set(result) != {"analyses"}:
            extra = ", ".join(sorted(str(k) for k in set(result) - {"analyses"})[:5])
            raise SandboxError(f"the sandbox returned a sweep result with unexpected keys: "
                               f"{extra}")
        analyses = result.get("analyses")
        docs = analyses if isinstance(analyses, list) else []
        if len(docs) != len(budgets):
            raise SandboxError(f"the sandbox returned {len(docs)} analyses for a sweep of "
                               f"{len(budgets)} budgets")
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise SandboxError("the sandbox returned an analysis that is not an object")
        try:
            validate_analysis(doc)
        except AnalysisError as e:
            raise SandboxError(f"the sandbox returned an invalid analysis: {e.message}") from e
        if budgets is not None and doc["settings"].get("memory_budget") != budgets[i]:
            raise SandboxError(f"the sandbox's analysis for budget {budgets[i]:g} was made at "
                               f"budget {doc['settings'].get('memory_budget')}")


def sanitize_error(error: dict[str, Any]) -> ErrorDoc:
    """The error document a sandbox sent, reduced to the known fields and kinds."""
    kind = CkptError.from_dict(error)  # unknown types fall back to CkptError
    line = error.get("line")
    return ErrorDoc(type=type(kind).__name__, code=str(error.get("code") or kind.code)[:64],
                    message=str(error.get("message", ""))[:20000],
                    line=line if isinstance(line, int) and not isinstance(line, bool) else None)
