"""The real `JobBackend`: jobs on the Huey queue, run in sandboxes by embedded or remote workers."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ckpt_core.errors import SandboxError
from ckpt_core.validate import prepare_validator

from ..jobs import JobEvent, JobOutcome, JobSpec, queue_name
from .cgroups import CgroupManager
from .cleanup import new_work_root, sweep_orphans
from .pool import SandboxPool
from .queue import DEVICES, Consumer, Queues
from .runner import JobRunner, cancelled_error
from .sandbox import SandboxConfig, SandboxLimits, describe, host_config
from .state import CANCELLED_CLAIM, JobState

log = logging.getLogger(__name__)


class WorkerBackend:
    """Submit/observe/cancel jobs; optionally consume them in this process too.

    `stale_after_s`: a claimed job whose worker sent no heartbeat for this long (the worker was
    killed, or its host died) is failed with that reason when next observed.
    """

    def __init__(self, queues: Queues, data_dir: Path, *, trusted_local: bool = False,
                 pool_size: int = 1, limits: SandboxLimits | None = None,
                 stale_after_s: float = 30.0, preload: bool = True,
                 queue_deadline_s: float = 900.0) -> None:
        self.queues = queues
        self.state = JobState(queues.state_storage)
        self.data_dir = data_dir
        self.trusted_local = trusted_local
        self.pool_size = pool_size
        self.limits = limits or SandboxLimits()
        self.stale_after_s = stale_after_s
        self.queue_deadline_s = queue_deadline_s
        self.lost_check_interval_s = LOST_CHECK_INTERVAL_S
        self.preload = preload
        self.consumers: list[Consumer] = []
        #: which isolation layers are in force, per consumer (for logs and status pages)
        self.isolation: dict[str, dict[str, str]] = {}
        self._work_root: Path | None = None
        self._lost_checked: dict[str, float] = {}
        self._outcome_lock = threading.Lock()
        self._outcomes: dict[str, JobOutcome] = {}  # the last few read, oldest first

    # -- JobBackend -----------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> None:
        self.state.append_event(spec.job_id, "queued", f"queued for a {spec.device} worker")
        self.queues.enqueue(spec)

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        self._fail_if_stale(job_id)
        return self.state.events(job_id, after)

    def outcome(self, job_id: str) -> JobOutcome | None:
        # An outcome never changes once written, and a document can be megabytes of JSON that
        # several readers (the job watcher, each SSE stream) ask for at once: parse it once.
        with self._outcome_lock:
            found = self._outcomes.get(job_id)
            if found is None:
                self._fail_if_stale(job_id)
                found = self.state.outcome(job_id)
                if found is not None:
                    self._outcomes[job_id] = found
                    while len(self._outcomes) > OUTCOMES_KEPT:
                        del self._outcomes[next(iter(self._outcomes))]
            return found

    def cancel(self, job_id: str) -> bool:
        if self.state.has_outcome(job_id):
            return False
        if self.state.claim(job_id, CANCELLED_CLAIM):
            # no worker had taken it: it never runs (a worker that dequeues it skips it)
            return self.state.finish(job_id, "cancelled", error=cancelled_error(),
                                     message="cancelled before it started")
        self.state.request_cancel(job_id)  # the running worker kills its sandbox
        return True

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """`listener(job_id)` after each event this process records (its embedded consumers'
        jobs); jobs run by remote workers are seen by polling `events`/`outcome`."""
        self.state.subscribe(listener)

    def close(self) -> None:
        for c in self.consumers:
            c.stop()
        self.consumers.clear()
        if self._work_root is not None:
            shutil.rmtree(self._work_root, ignore_errors=True)
            self._work_root = None

    # -- consumers ------------------------------------------------------------------------------

    def start_embedded_consumer(self, *, cpu_workers: int = 1, gpus: Sequence[int] = (),
                                python: str | None = None,
                                torch_version: str | None = None) -> None:
        """Consume jobs in this process: `cpu_workers` CPU sandboxes at a time, one job per GPU.

        With `python` (another virtualenv's interpreter, whose torch is `torch_version`), the
        sandboxes run that interpreter and serve that version's queues (`queue_name`).
        Checks the host first: `SandboxUnavailableError` says what to grant.
        """
        prepare_validator()  # every returned document is validated; not on the first job's clock
        if self._work_root is None:
            # not under data_dir: that may be private, and the sandbox user must traverse here
            self._work_root = new_work_root()
        work_root = self._work_root
        sweep_orphans(CgroupManager.detect(self.limits.memory_bytes, self.limits.pids_max))
        suffix = f"-torch{torch_version}" if torch_version else ""
        if cpu_workers > 0:
            config = host_config(work_root, trusted_local=self.trusted_local,
                                 limits=self.limits, preload=self.preload, python=python)
            self._start(queue_name("cpu", torch_version), config, cpu_workers,
                        f"ckpt-cpu{suffix}")
        for gpu in gpus:
            config = host_config(work_root, trusted_local=self.trusted_local, gpu=gpu,
                                 limits=self.limits, preload=self.preload, python=python)
            self._start(queue_name("cuda", torch_version), config, 1, f"ckpt-gpu{gpu}{suffix}")

    def _start(self, device: str, config: SandboxConfig, workers: int, name: str) -> None:
        self.isolation[name] = describe(config)
        log.info("%s isolation: %s", name, self.isolation[name])
        runners = [JobRunner(self.state, SandboxPool(config, self.pool_size),
                             max_timeout_s=self.limits.timeout_s) for _ in range(workers)]
        consumer = Consumer(self.queues.huey(device), runners, name,
                            self.queues.wakeups[device], queue=device, state=self.state)
        consumer.start()
        self.consumers.append(consumer)

    def forget(self, job_id: str) -> None:
        """Remove the job from the queue and the job state (see `JobState.forget`), and empty
        SQLite's write-ahead log so no copy of its snippet or result stays on disk."""
        if self.state.claimed_by(job_id) in (None, CANCELLED_CLAIM):  # no worker runs it
            self.queues.drop_pending(job_id)
        self.state.forget(job_id)
        with self._outcome_lock:
            self._outcomes.pop(job_id, None)
        self._lost_checked.pop(job_id, None)
        self.queues.checkpoint()

    def purge_finished(self, older_than_s: float) -> int:
        """Forget finished jobs nobody collected (the server was down, or they were deleted
        while running) once their last event is older than `older_than_s`."""
        stale = self.state.finished_before(time.time() - older_than_s)
        for job_id in stale:
            self.forget(job_id)
        return len(stale)

    def queue_consumers(self) -> dict[str, list[str]]:
        """Per queue, the consumers (here or on `ckpt worker` hosts) seen alive recently."""
        queues = dict.fromkeys([*DEVICES, *self.state.known_queues()])
        return {queue: self.state.consumers(queue, self.stale_after_s) for queue in queues}

    def queue_pending(self) -> dict[str, int]:
        queues = dict.fromkeys([*DEVICES, *self.state.known_queues()])
        return {queue: self.queues.pending(queue) for queue in queues}

    def pool_status(self) -> dict[str, str]:
        """Per embedded consumer: warm sandboxes waiting for a job, and why warming fails if
        it does (for readiness checks and operators)."""
        out = {}
        for c in self.consumers:
            pools = [r.pool for r in c.runners]
            text = f"{sum(p.warm() for p in pools)} of {sum(p.size for p in pools)} warm"
            errors = {p.last_error for p in pools if p.last_error}
            out[c.name] = text + (f"; cannot warm: {sorted(errors)[0]}" if errors else "")
        return out

    # -- lost workers ---------------------------------------------------------------------------

    def _fail_if_stale(self, job_id: str) -> None:
        owner = self.state.claimed_by(job_id)
        if owner is None:
            self._fail_if_lost(job_id)
            return
        if owner == CANCELLED_CLAIM or self.state.has_outcome(job_id):
            return
        beat = self.state.last_heartbeat(job_id)
        if beat is None or time.time() - beat <= self.stale_after_s:
            return
        free = self.queues.disk_free_bytes()
        if free is not None and free < LOW_DISK_BYTES:
            # its worker cannot write heartbeats to a full disk: it is not dead; it finishes
            # the job once it can write again (or its sandbox's own timeout stops it)
            return
        log.warning("job %s: its worker %s sent no heartbeat for %.0f s", job_id, owner,
                    time.time() - beat)
        err = SandboxError(f"the worker running this job stopped responding (no heartbeat for "
                           f"{time.time() - beat:.0f} s); the job failed")
        self.state.finish(job_id, "failed", error=err.to_dict(), message=err.message)


    def _fail_if_lost(self, job_id: str) -> None:
        """A job that left the queue but that no worker claimed: its worker died between taking
        it and claiming it. Fail it with that reason rather than let it wait forever."""
        events = self.state.events(job_id)
        if not events or time.time() - events[0].at <= self.stale_after_s:
            return
        now = time.monotonic()
        if now - self._lost_checked.get(job_id, 0.0) < self.lost_check_interval_s:
            return  # reading the queue's pending tasks is not free: at most every few seconds
        self._lost_checked[job_id] = now
        waited_s = time.time() - events[0].at
        if job_id in self.queues.pending_job_ids():
            if waited_s <= self.queue_deadline_s:
                return  # still waiting its turn
            if not self.state.claim(job_id, EXPIRED_CLAIM):
                return  # a worker took it just now
            err = SandboxError(
                f"no worker took this job within the queue deadline ({self.queue_deadline_s:g} "
                f"s; it waited {waited_s:.0f} s behind other jobs or with no worker for its "
                "device); the job failed without running: submit it again later")
            self.state.finish(job_id, "failed", error=err.to_dict(), message=err.message)
            return
        if not self.state.claim(job_id, LOST_CLAIM):
            return  # a worker claimed it meanwhile
        err = SandboxError("the job left the queue but no worker started it (the worker that "
                           "took it stopped); the job failed")
        self.state.finish(job_id, "failed", error=err.to_dict(), message=err.message)


#: finished outcomes kept parsed for readers that ask again (the watcher and the job's SSE
#: streams ask within milliseconds; a parsed GPT document is tens of MB, so keep few)
OUTCOMES_KEPT = 2
#: how often a long-unclaimed job's presence in the queue is checked
LOST_CHECK_INTERVAL_S = 5.0
#: the claim a lost job gets, so that a worker that still finds it skips it
LOST_CLAIM = "lost-before-claim"
#: below this much free space where the job state lives, a silent worker is not presumed dead
LOW_DISK_BYTES = 4 << 20
#: the claim of a job that waited past the queue deadline: a worker that dequeues it skips it
EXPIRED_CLAIM = "expired-in-queue"


def make_backend(queue_url: str | None, data_dir: Path, *, trusted_local: bool = False,
                 pool_size: int = 1, limits: SandboxLimits | None = None,
                 stale_after_s: float = 30.0, preload: bool = True,
                 queue_deadline_s: float = 900.0) -> WorkerBackend:
    """The backend `ckpt serve` uses: `queue_url` None → `<data_dir>/queue.sqlite3`
    (call `start_embedded_consumer()` to run jobs in-process); `redis://…` → shared queue
    served by `ckpt worker` hosts. `close()` stops any embedded consumer."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return WorkerBackend(Queues(queue_url, data_dir), data_dir, trusted_local=trusted_local,
                         pool_size=pool_size, limits=limits, stale_after_s=stale_after_s,
                         preload=preload, queue_deadline_s=queue_deadline_s)
