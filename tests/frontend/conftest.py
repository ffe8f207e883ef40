"""Browser-test fixtures: the real API app on 127.0.0.1 with a canned job backend, and Chromium.

The backend walks a job through the real stages and answers from analyses computed once per
session by `ckpt_core` itself (cached under test-artifacts/cache, keyed by source, settings and
torch version), so the browser tests exercise real documents, layouts and diffs without waiting
for a compile per test. Snippets it has no answer for are analysed for real, in-process.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"

#: (example, settings) pairs the journeys submit; computed before the server starts.
CANNED = [
    ("gpt_sac", {}),
    ("mlp_checkpoint", {}),
    ("mlp_checkpoint", {"partitioner": "default"}),
    ("dropout_checkpoint", {}),
    ("hf_use_cache_break", {}),
]
STAGES = [("queued", 0.0, "waiting"), ("starting", 0.1, "starting"),
          ("tracing", 0.3, "compiling the snippet"), ("partitioning", 0.6, "partitioning"),
          ("analysing", 0.8, "classifying saved and recomputed values"),
          ("storing", 0.95, "storing the result")]


def _key(source: str, settings: dict[str, Any]) -> str:
    from ckpt_core import Settings

    canonical = json.dumps({"source": source, "settings": Settings.from_dict(settings).to_dict()},
                           sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _core_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "ckpt_core").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _analyse(source: str, settings: dict[str, Any], name: str) -> dict[str, Any]:
    """A real analysis, cached on disk: the document a worker returns (`ckpt_core.analyze_source`
    with its memory summary). The cache key includes the core's own source, so a change to the
    core never serves a stale document."""
    import torch

    from ckpt_core import Settings, analyze_source
    from ckpt_core.memory.summary import with_memory

    cache = ARTIFACTS / "cache" / (f"{_key(source, settings)}-{_core_digest()}-"
                                   f"{torch.__version__}.json")
    if cache.is_file():
        return json.loads(cache.read_text())  # type: ignore[no-any-return]
    doc = with_memory(analyze_source(source, Settings.from_dict(settings), name=name)).to_dict()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(doc))
    return doc


@dataclass
class CannedBackend:
    """`server.jobs.JobBackend` answering from `documents` (by source and settings)."""

    documents: dict[str, dict[str, Any]]
    stage_delay_s: float = 0.12
    _events: dict[str, list[Any]] = field(default_factory=dict)
    _outcomes: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Any] = field(default_factory=list)

    def _emit(self, job_id: str, stage: str, progress: float, message: str) -> None:
        from server.jobs import JobEvent

        with self._lock:
            self._events.setdefault(job_id, []).append(
                JobEvent(job_id, stage, progress, message, time.time()))  # type: ignore[arg-type]
        for listener in self._listeners:
            listener(job_id)

    def subscribe(self, listener: Any) -> None:
        self._listeners.append(listener)
        if self._real is not None:
            self._real.subscribe(listener)

    _real: Any = None

    def submit(self, spec: Any) -> None:
        # Sweeps (any job with options) and snippets without a canned answer run for real,
        # in a child process, as `ckpt serve` runs them without the sandboxed worker.
        doc = None if spec.options else self.documents.get(_key(spec.source, spec.settings))
        if doc is None:
            from server.app.local_backend import LocalBackend

            with self._lock:
                if self._real is None:
                    self._real = LocalBackend()
                    for listener in self._listeners:
                        self._real.subscribe(listener)
                self._events[spec.job_id] = []
            self._real.submit(spec)
            return
        threading.Thread(target=self._run, args=(spec, doc), daemon=True).start()

    def _run(self, spec: Any, doc: dict[str, Any]) -> None:
        from server.jobs import JobOutcome

        for stage, progress, message in STAGES:
            self._emit(spec.job_id, stage, progress, message)
            time.sleep(self.stage_delay_s)
        out: dict[str, Any] = {"result": {**doc, "snippet_name": spec.snippet_name}}
        with self._lock:  # the outcome first: a reader woken by the final event finds it
            self._outcomes[spec.job_id] = JobOutcome(spec.job_id, out.get("result"),
                                                     out.get("error"))
        if out.get("error"):
            self._emit(spec.job_id, "failed", 1.0, out["error"].get("message", ""))
        else:
            self._emit(spec.job_id, "done", 1.0, "done")

    def _is_real(self, job_id: str) -> bool:
        with self._lock:
            return self._real is not None and self._events.get(job_id) == []

    def events(self, job_id: str, after: int = 0) -> list[Any]:
        if self._is_real(job_id):
            return list(self._real.events(job_id, after))
        with self._lock:
            return list(self._events.get(job_id, [])[after:])

    def outcome(self, job_id: str) -> Any:
        if self._is_real(job_id):
            return self._real.outcome(job_id)
        with self._lock:
            return self._outcomes.get(job_id)

    def cancel(self, job_id: str) -> bool:
        return bool(self._real.cancel(job_id)) if self._is_real(job_id) else False

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


@pytest.fixture(scope="session")
def canned_documents() -> dict[str, dict[str, Any]]:
    docs = {}
    for example, settings in CANNED:
        source = (REPO / "examples" / f"{example}.py").read_text()
        docs[_key(source, settings)] = _analyse(source, settings, f"{example}.py")
    return docs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server_url(canned_documents: dict[str, dict[str, Any]],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from server.app.main import create_app
    from server.app.settings import ServerSettings

    settings = ServerSettings(data_dir=tmp_path_factory.mktemp("ckpt-data"),
                              submissions_per_minute=0)
    app = create_app(settings, backend=CannedBackend(canned_documents))  # type: ignore[arg-type]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield chromium
    chromium.close()
    pw.stop()


#: Chromium logs every failed request; a 501 is the API saying an analysis (memory, diff) is
#: not in this build, which the UI reports in place — not a page error.
TOLERATED = ("the server responded with a status of 501",)


class ConsoleErrors(list[str]):
    """Console errors and uncaught exceptions of the pages of one context."""

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: self.append(f"console.{m.type}: {m.text}")
                if m.type == "error" and not any(t in m.text for t in TOLERATED) else None)
        page.on("pageerror", lambda e: self.append(f"pageerror: {e}"))
        return page


@pytest.fixture
def new_context(browser: Any, server_url: str) -> Iterator[Any]:
    """Makes fresh browser contexts (1280×800 unless told) whose pages log console errors."""
    contexts = []
    errors = ConsoleErrors()

    def make(**kw: Any) -> Any:
        kw.setdefault("viewport", {"width": 1280, "height": 800})
        ctx = browser.new_context(base_url=server_url, **kw)
        ctx.on("page", errors.watch)
        contexts.append(ctx)
        return ctx

    make.errors = errors  # type: ignore[attr-defined]
    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, "\n".join(errors)


@pytest.fixture
def shot() -> Any:
    """shot(page, "01-name"): a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
