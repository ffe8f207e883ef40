"""Why the min-cut partitioner decided: the constraints it put on each node.

torch's `solve_min_cut` builds a networkx flow graph whose infinite-capacity edges carry a
`reason` ("cannot recompute: compute intensive op", "must recompute: marked by checkpoint
policy", "cannot save: non-tensor output", …). We read them off that graph when torch calls
`networkx.minimum_cut`, without changing what torch computes. Under a memory budget the solver
may cut several times; the last cut (the one the partition uses) wins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

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


@contextlib.contextmanager
def record_min_cut_reasons() -> Iterator[dict[str, tuple[str, ...]]]:
    """While active, every min cut torch solves leaves its constraints in the yielded dict."""
    try:
        import networkx
    except ImportError:  # torch then cannot run the min-cut partitioner either
        yield {}
        return
    found: dict[str, tuple[str, ...]] = {}
    original = networkx.minimum_cut

    def recording_minimum_cut(graph: Any, *args: Any, **kwargs: Any) -> Any:
        found.clear()
        found.update(reasons_from_flow_graph(graph))
        return original(graph, *args, **kwargs)

    networkx.minimum_cut = recording_minimum_cut
    _ACTIVE.append(found)
    try:
        yield found
    finally:
        _ACTIVE.remove(found)
        networkx.minimum_cut = original
