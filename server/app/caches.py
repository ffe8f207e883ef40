"""What the API process keeps in memory, per job and per share link: one `ViewCache`.

Three bounded maps (`server.lru.LRU`), each with named methods so no caller builds a key:
- finished jobs by share id (they no longer change, so reads skip the database);
- documents by job id and snippet name (a cached answer carries each submitter's own name):
  the stored bytes, the parsed document, the gzip-ready body (large: few);
- views by job id: group paths and levels of a graph, the memory analysis, and ready responses
  by URL path (a finished analysis' status, a graph's JSON) that `fastpath` sends before routing.
Deleting a job or a link forgets everything derived from it (`forget_job`, `forget_link`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.layout import Level
from server.lru import LRU
from server.store import JobRecord

from .encoding import Body


@dataclass(frozen=True)
class _DocKey:
    job_id: str
    snippet_name: str  # a cached answer is shown under each submitter's own snippet name
    form: str  # "bytes", "parsed" or "body"


@dataclass(frozen=True)
class _ViewKey:
    job_id: str
    view: str  # "paths", "level", "json", "memory"
    region: int = -1
    graph: str = ""
    expand: str = ""


@dataclass(frozen=True)
class _Ready:
    """A response sent as is: bytes (status) or a `Body` (graph JSON, gzip when accepted)."""

    job_id: str
    share_id: str
    body: bytes | Body


_View = Mapping[str, str] | Level | Body | dict[str, Any] | _Ready


class ViewCache:
    """The API's in-memory caches; thread-safe."""

    def __init__(self, documents: int = 8, views: int = 256, finished: int = 4096) -> None:
        self._finished: LRU[str, JobRecord] = LRU(finished)
        self._documents: LRU[_DocKey, bytes | dict[str, Any] | Body] = LRU(documents)
        self._views: LRU[_ViewKey | str, _View] = LRU(views)

    # finished jobs ---------------------------------------------------------------------------

    def finished_job(self, share_id: str) -> JobRecord | None:
        return self._finished.get(share_id)

    def put_finished_job(self, share_id: str, job: JobRecord) -> None:
        self._finished.put(share_id, job)

    # documents -------------------------------------------------------------------------------

    def document_bytes(self, job_id: str, snippet_name: str) -> bytes | None:
        raw = self._documents.get(_DocKey(job_id, snippet_name, "bytes"))
        return raw if isinstance(raw, bytes) else None

    def put_document_bytes(self, job_id: str, snippet_name: str, raw: bytes) -> bytes:
        self._documents.put(_DocKey(job_id, snippet_name, "bytes"), raw)
        return raw

    def document(self, job_id: str, snippet_name: str) -> dict[str, Any] | None:
        doc = self._documents.get(_DocKey(job_id, snippet_name, "parsed"))
        return doc if isinstance(doc, dict) else None

    def put_document(self, job_id: str, snippet_name: str,
                     doc: dict[str, Any]) -> dict[str, Any]:
        self._documents.put(_DocKey(job_id, snippet_name, "parsed"), doc)
        return doc

    def document_body(self, job_id: str, snippet_name: str) -> Body | None:
        body = self._documents.get(_DocKey(job_id, snippet_name, "body"))
        return body if isinstance(body, Body) else None

    def put_document_body(self, job_id: str, snippet_name: str, body: Body) -> Body:
        self._documents.put(_DocKey(job_id, snippet_name, "body"), body)
        return body

    # views of a document ---------------------------------------------------------------------

    def group_paths(self, job_id: str, region: int, graph: str) -> Mapping[str, str] | None:
        paths = self._views.get(_ViewKey(job_id, "paths", region, graph))
        return paths if isinstance(paths, Mapping) else None

    def put_group_paths(self, job_id: str, region: int, graph: str,
                        paths: Mapping[str, str]) -> Mapping[str, str]:
        self._views.put(_ViewKey(job_id, "paths", region, graph), paths)
        return paths

    def level(self, job_id: str, region: int, graph: str, expand: str) -> Level | None:
        level = self._views.get(_ViewKey(job_id, "level", region, graph, expand))
        return level if isinstance(level, Level) else None

    def put_level(self, job_id: str, region: int, graph: str, expand: str,
                  level: Level) -> Level:
        self._views.put(_ViewKey(job_id, "level", region, graph, expand), level)
        return level

    def graph_json(self, job_id: str, region: int, graph: str) -> Body | None:
        body = self._views.get(_ViewKey(job_id, "json", region, graph))
        return body if isinstance(body, Body) else None

    def put_graph_json(self, job_id: str, region: int, graph: str, body: Body) -> Body:
        self._views.put(_ViewKey(job_id, "json", region, graph), body)
        return body

    def memory(self, job_id: str) -> dict[str, Any] | None:
        memory = self._views.get(_ViewKey(job_id, "memory"))
        return memory if isinstance(memory, dict) else None

    def put_memory(self, job_id: str, memory: dict[str, Any]) -> dict[str, Any]:
        self._views.put(_ViewKey(job_id, "memory"), memory)
        return memory

    # ready responses -------------------------------------------------------------------------

    def response(self, path: str) -> bytes | Body | None:
        """The body kept for a GET of `path` (no query), if its link is still live."""
        ready = self._views.get(path)
        if not isinstance(ready, _Ready) or self._finished.get(ready.share_id) is None:
            return None
        return ready.body

    def put_response(self, path: str, job_id: str, share_id: str,
                     body: bytes | Body) -> None:
        """Keep `body` as the answer to a GET of `path` while the finished job `job_id` stays
        reachable through `share_id`."""
        self._views.put(path, _Ready(job_id, share_id, body))

    # forgetting ------------------------------------------------------------------------------

    def forget_link(self, share_id: str) -> None:
        self._finished.drop(lambda key, _job: key == share_id)
        self._views.drop(lambda _key, v: isinstance(v, _Ready) and v.share_id == share_id)

    def forget_job(self, job_id: str) -> None:
        self._documents.drop(lambda key, _doc: key.job_id == job_id)
        self._views.drop(lambda key, v: (isinstance(key, _ViewKey) and key.job_id == job_id)
                         or (isinstance(v, _Ready) and v.job_id == job_id))
