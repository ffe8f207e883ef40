"""Graphs of an analysis: JSON, one laid-out level as SVG, and one level's groups as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from ckpt_core.ir import NodeJSON
from server.layout import (
    LayoutError,
    Level,
    UnknownGroup,
    build_level,
    child_groups,
    group_paths,
)
from server.store import JobRecord

from ..deps import Layouts, Service
from ..encoding import Body, send
from ..errors import ApiError
from ..models import GraphLevel, GroupItem
from ..payloads import ERRORS
from ..service import AnalysisService

router = APIRouter(prefix="/api/analyses/{analysis_id}/regions/{region}/graphs", tags=["graphs"])


class GraphKindName(StrEnum):
    forward = "forward"
    backward = "backward"
    joint = "joint"


Region = Annotated[int, Path(ge=0, le=10_000)]
Expand = Annotated[str, Query(max_length=512, description=(
    "Group path to expand (e.g. `blocks.3.attn`); empty for the top level"))]
Open = Annotated[str, Query(max_length=8192, description=(
    "Comma-separated group paths opened in place inside the level (nested, several at once), "
    "drawn as clusters around their contents"))]
Depth = Annotated[int, Query(ge=0, le=8, description=(
    "Also open every group up to this many levels below `expand` (\"expand all to depth N\")"))]
SVG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}}, "description": "the laid-out level"}}


def _region(service: AnalysisService, job: JobRecord, region: int) -> dict[str, Any]:
    doc = service.document(job)
    regions = doc.get("regions", [])
    if region >= len(regions):
        raise ApiError(404, "not_found", f"region: the analysis has {len(regions)} region(s); "
                       f"there is no region {region}")
    found: dict[str, Any] = regions[region]
    return found


def _graph_nodes(service: AnalysisService, job: JobRecord, region: int,
                 kind: str) -> list[NodeJSON]:
    graph = _region(service, job, region)["graphs"].get(kind)
    if graph is None:
        raise ApiError(404, "not_found", f"region {region} has no {kind} graph (an inference-only "
                       "region has only a forward graph)")
    return cast(list[NodeJSON], graph["nodes"])  # a stored document, validated when stored


def _paths(service: AnalysisService, job: JobRecord, region: int,
           kind: str) -> Mapping[str, str]:
    cache = service.cache
    paths = cache.group_paths(job.id, region, kind)
    if paths is None:
        nodes = _graph_nodes(service, job, region, kind)
        joint = _region(service, job, region)["graphs"].get("joint", {}).get("nodes", [])
        paths = cache.put_group_paths(job.id, region, kind, group_paths(nodes, joint))
    return paths


def open_set(service: AnalysisService, job: JobRecord, region: int, kind: str, expand: str,
             open_: str, depth: int) -> tuple[str, ...]:
    """The groups to open in place: those named in `open_` plus all to `depth`, sorted (the
    layout's cache key)."""
    named = {p.strip().strip(".") for p in open_.split(",") if p.strip().strip(".")}
    if depth:
        named |= child_groups(_paths(service, job, region, kind), expand, depth)
    return tuple(sorted(named))


def _level(service: AnalysisService, job: JobRecord, region: int, kind: str,
           expand: str, opened: tuple[str, ...] = ()) -> Level:
    cache = service.cache
    # a level with groups opened in place is its own view: the open set is part of its key
    key = expand + ("\0" + ",".join(opened) if opened else "")
    level = cache.level(job.id, region, kind, key)
    if level is None:
        nodes = _graph_nodes(service, job, region, kind)
        paths = _paths(service, job, region, kind)
        try:
            level = build_level(nodes, paths, expand.strip("."), opened)
        except UnknownGroup as e:
            raise ApiError(404, "unknown_group", str(e)) from e
        cache.put_level(job.id, region, kind, key, level)
    return level


def graph_path(analysis_id: str, region: int, kind: str) -> str:
    """The URL path of a graph's JSON (the key of its ready response in the view cache)."""
    return f"/api/analyses/{analysis_id}/regions/{region}/graphs/{kind}"


def _graph_json(service: AnalysisService, analysis_id: str, region: int, kind: str) -> Body:
    job = service.job(analysis_id)
    path = graph_path(analysis_id, region, kind)
    body = service.cache.response(path)
    if isinstance(body, Body):
        return body
    body = service.cache.graph_json(job.id, region, kind)  # shared by the job's links
    if body is None:
        nodes = _graph_nodes(service, job, region, kind)
        reg = _region(service, job, region)
        body = service.cache.put_graph_json(job.id, region, kind, Body.of(json.dumps(
            {"region": region, "kind": kind, "num_user_outputs": reg.get("num_user_outputs"),
             "saved": reg.get("saved", []), "nodes": nodes},
            separators=(",", ":")).encode("utf-8")))
    service.cache.put_response(path, job.id, analysis_id, body)
    return body


def _svg(service: AnalysisService, layouts: Any, analysis_id: str, region: int, kind: str,
         expand: str, open_: str = "", depth: int = 0) -> bytes:
    job = service.job(analysis_id)
    expand = expand.strip(".")
    opened = open_set(service, job, region, kind, expand, open_, depth)
    level = _level(service, job, region, kind, expand, opened)
    try:
        svg: bytes = layouts.svg(layouts.key(job.cache_key, region, kind, level.expand,
                                             ",".join(opened)), level)
    except LayoutError as e:
        raise ApiError(503, "layout_failed", str(e)) from e
    return svg


@router.get("/{kind}.svg", responses={**SVG, **ERRORS}, summary="One level, laid out as SVG")
async def graph_svg(analysis_id: str, region: Region, kind: GraphKindName, service: Service,
                    layouts: Layouts, expand: Expand = "", open: Open = "",
                    depth: Depth = 0) -> Response:
    """Nodes carry `id="n:<name>"`, collapsed groups `id="g:<path>"`, groups opened in place
    `id="c:<path>"` (clusters); `class` holds the status. A collapsed group's box carries a bar
    of its members' statuses in proportion, with counts and bytes in its tooltip."""
    svg = await run_in_threadpool(_svg, service, layouts, analysis_id, region, kind.value, expand,
                                  open, depth)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


@router.get("/{kind}/groups", response_model=GraphLevel, responses=ERRORS,
            summary="One level's groups and nodes")
def graph_groups(analysis_id: str, region: Region, kind: GraphKindName, service: Service,
                 expand: Expand = "") -> GraphLevel:
    job = service.job(analysis_id)
    level = _level(service, job, region, kind.value, expand)
    items = [GroupItem(id=i.id, kind="group" if i.kind == "group" else "node", label=i.label,
                       path=i.path, name=i.name, status=i.status or None,
                       node_count=i.node_count, status_counts=i.status_counts)
             for i in level.items if i.kind != "stub"]
    shown = {i.id for i in items}
    return GraphLevel(analysis_id=analysis_id, region=region, kind=kind.value,
                      expand=level.expand, breadcrumb=level.breadcrumb, items=items,
                      edges=[e for e in level.edges if e[0] in shown and e[1] in shown])


@router.get("/{kind}", responses={**ERRORS, 200: {"content": {
    "application/json": {}, "image/svg+xml": {}}}}, summary="A graph as JSON")
async def graph(analysis_id: str, region: Region, kind: GraphKindName, request: Request,
                service: Service, layouts: Layouts, expand: Expand = "",
                format: Annotated[str, Query(pattern="^(json|svg)$")] = "json") -> Response:
    """The region's graph (`nodes` in topological order, plus the region's `saved` values);
    `?format=svg` gives the laid-out level `expand` instead."""
    if format == "svg":
        return await graph_svg(analysis_id, region, kind, service, layouts, expand, "", 0)
    body = service.cache.response(graph_path(analysis_id, region, kind.value))
    if not isinstance(body, Body):  # first read: load the document off the event loop
        body = await run_in_threadpool(_graph_json, service, analysis_id, region, kind.value)
    return send(body, request)
