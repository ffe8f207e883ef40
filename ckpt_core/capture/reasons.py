"""Why the min-cut partitioner decided: the constraints it put on each node.

torch's `solve_min_cut` builds a networkx flow graph whose infinite-capacity edges carry a
`reason` ("cannot recompute: compute intensive op", "must recompute: marked by checkpoint
policy", "cannot save: non-tensor output", …). We read them off that graph when torch calls its
min-cut function (`networkx.minimum_cut` up to torch 2.14, torch's own `minimum_cut` from 2.15:
`torch_compat.min_cut_sites`), without changing what torch computes. Under a memory budget the
solver may cut several times; the last cut (the one the partition uses) wins. The same wrapper
lets a sweep reuse max-flow results across budgets (`memoized_min_cuts`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .torch_compat import min_cut_sites

_SUFFIXES = ("_in", "_out")
#: the dicts of the `record_min_cut_reasons` blocks now open, innermost last
_ACTIVE: list[dict[str, tuple[str, ...]]] = []


def current_reasons() -> dict[str, tuple[str, ...]]:
    """The constraints of the last cut solved inside the innermost open recording block."""
    return dict(_ACTIVE[-1]) if _ACTIVE else {}


def _base(name: str) -> str | None:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def reasons_from_flow_graph(graph: Any) -> dict[str, tuple[str, ...]]:
    """Per FX node name, the reasons on its source/sink/self edges, in a stable order."""
    out: dict[str, list[str]] = {}
    for u, v, data in graph.edges(data=True):
        reason = data.get("reason")
        if not reason or reason == "data dependency":
            continue
        if u == "source":
            node = _base(str(v))
        elif v == "sink" or _base(str(u)) == _base(str(v)):
            node = _base(str(u))
        else:
            continue
        if node is not None and reason not in out.setdefault(node, []):
            out[node].append(str(reason))
    return {k: tuple(v) for k, v in sorted(out.items())}


# One wrapper over torch's min-cut function serves both uses below; it is installed while any of
# their blocks is open, and the blocks may nest. Where the function lives depends on the torch
# release (`torch_compat.min_cut_sites`).
_CACHES: list[dict[tuple[Any, ...], Any]] = []
#: per wrapped site, (module, attribute, the original function)
_originals: list[tuple[Any, str, Any]] = []
_open_blocks = 0


def _solve(original: Any, graph: Any, source: Any, sink: Any, *args: Any, **kwargs: Any) -> Any:
    if _ACTIVE:
        found = _ACTIVE[-1]
        found.clear()
        found.update(reasons_from_flow_graph(graph))
    if not _CACHES or args or kwargs:
        return original(graph, source, sink, *args, **kwargs)
    cache = _CACHES[-1]
    key = (source, sink, tuple((u, v, data.get("capacity"))
                               for u, v, data in graph.edges(data=True)))
    if key not in cache:
        cache[key] = original(graph, source, sink)
    cut_value, (reachable, non_reachable) = cache[key]
    return cut_value, (set(reachable), set(non_reachable))


def _wrapper(original: Any) -> Any:
    def minimum_cut(graph: Any, source: Any, sink: Any, *args: Any, **kwargs: Any) -> Any:
        return _solve(original, graph, source, sink, *args, **kwargs)

    minimum_cut.__wrapped__ = original  # type: ignore[attr-defined]
    return minimum_cut


@contextlib.contextmanager
def _wrapped() -> Iterator[bool]:
    """Yields False (and wraps nothing) when no min-cut function is found: torch then cannot
    run the min-cut partitioner either (networkx missing), or keeps it somewhere unknown."""
    global _open_blocks
    if _open_blocks == 0:
        for site in min_cut_sites():
            module = site.resolve()
            if module is not None:
                original = getattr(module, site.attribute)
                _originals.append((module, site.attribute, original))
                setattr(module, site.attribute, _wrapper(original))
    if not _originals:
        yield False
        return
    _open_blocks += 1
    try:
        yield True
    finally:
        _open_blocks -= 1
        if _open_blocks == 0:
            while _originals:
                module, attribute, original = _originals.pop()
                setattr(module, attribute, original)


@contextlib.contextmanager
def record_min_cut_reasons() -> Iterator[dict[str, tuple[str, ...]]]:
    """While active, every min cut torch solves leaves its constraints in the yielded dict."""
    found: dict[str, tuple[str, ...]] = {}
    with _wrapped() as wrapped:
        if not wrapped:
            yield found
            return
        _ACTIVE.append(found)
        try:
            yield found
        finally:
            _ACTIVE.remove(found)


@contextlib.contextmanager
def memoized_min_cuts(cache: dict[tuple[Any, ...], Any]) -> Iterator[None]:
    """Reuse max-flow results for flow graphs already solved, edge for edge in the same order.

    Under a budget the partitioner solves the same budget-independent cuts for every budget;
    the flow graph is still built (and its constraints still read), only the identical max-flow
    is not solved again. Results are node-name sets, valid across copies of the graph."""
    with _wrapped() as wrapped:
        if not wrapped:
            yield
            return
        _CACHES.append(cache)
        try:
            yield
        finally:
            _CACHES.remove(cache)
