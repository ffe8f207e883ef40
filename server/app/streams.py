"""Live job events as Server-Sent Events: async (no thread per client), woken by the job's
changes, ended when the client goes, and capped per client.

A stream sleeps on `ChangeBoard.wait` until the job watcher records a change of its job (the
watcher follows every job, pushed or polled), then reads the new events from the store once.
Starlette ends the stream as soon as the client disconnects (it listens for the ASGI
`http.disconnect` while streaming); a keep-alive comment every `KEEPALIVE_S` also finds clients
that vanished without closing their connection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from server.store import FINAL_STATUSES

from .errors import ApiError
from .limits import Receive, Scope, Send
from .service import AnalysisService

#: a comment line this often keeps proxies from closing an idle stream and finds dead clients;
#: it is also when a stream looks at the store without being woken (a safety net)
KEEPALIVE_S = 15.0


def event_body(e: Any, since_s: float) -> dict[str, Any]:
    """An event as one link's submitter sees it: a cached answer's events happened for its
    first submitter, before this one submitted (`since_s`), and their times are not ours."""
    return {"seq": e.seq, "stage": e.stage, "progress": e.progress, "message": e.message,
            "at": max(e.at_s, since_s)}


async def job_events(service: AnalysisService, job_id: str, after: int,
                     since_s: float) -> AsyncIterator[bytes]:
    """The job's events from `after` on, until its final one."""
    while True:
        seen = service.changes.version(job_id)  # before reading: a change after it wakes us
        events = await run_in_threadpool(service.store.events, job_id, after)
        for e in events:
            after = e.seq + 1
            data = json.dumps(event_body(e, since_s))
            yield f"id: {e.seq}\nevent: {e.stage}\ndata: {data}\n\n".encode()
            if e.stage in FINAL_STATUSES:
                return
        if not events and await run_in_threadpool(service.store.job, job_id) is None:
            return  # deleted
        if not await service.changes.wait(job_id, seen, KEEPALIVE_S):
            yield b": keep-alive\n\n"


class StreamSlots:
    """How many live streams each client holds; at most `per_client` at once. Used from the
    event loop only."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._held: dict[str, int] = {}

    def take(self, client: str) -> Callable[[], None]:
        """A slot for `client` (raises 429 when it has none left); returns its release."""
        held = self._held.get(client, 0)
        if held >= self.per_client:
            raise ApiError(429, "too_many_streams",
                           f"this client already follows {held} live streams (the limit is "
                           f"{self.per_client}); close one, or poll with ?format=json",
                           headers={"Retry-After": "5"})
        self._held[client] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._held.get(client, 1) - 1
            if left > 0:
                self._held[client] = left
            else:
                self._held.pop(client, None)

        return release

    def held(self) -> int:
        return sum(self._held.values())


class LiveStream(StreamingResponse):
    """An event stream that gives its client's slot back however it ends (done, client gone,
    server shutting down), even if it never started."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"X-Accel-Buffering": "no"})
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
