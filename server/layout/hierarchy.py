"""Graph levels: nodes grouped by module path, each expanded group shown on its own.

A node's group path is its `module` (`blocks.3.attn.qkv`). Nodes without one borrow it: a
parameter placeholder from its parameter's owner, a backward op from the forward op with the
same autograd `seq_nr`, anything else from its first input that has one. A level is the
content of one expanded group path (`""` is the top): its direct nodes, one collapsed group per
child path, the edges between them, and stubs for inputs that come from outside the level.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NodeDict = Mapping[str, Any]


class UnknownGroup(ValueError):
    """The requested group path does not exist in this graph."""


@dataclass(frozen=True)
class Item:
    """A node (`id="n:<name>"`) or a collapsed group (`id="g:<path>"`) at one level."""

    id: str
    kind: str  # "node" | "group" | "stub"
    label: str
    status: str = ""
    path: str | None = None
    name: str | None = None
    op: str | None = None
    node_count: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Level:
    expand: str
    items: tuple[Item, ...]
    edges: tuple[tuple[str, str], ...]

    @property
    def breadcrumb(self) -> list[str]:
        parts = self.expand.split(".") if self.expand else []
        return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]


def group_paths(nodes: Sequence[NodeDict],
                reference: Iterable[NodeDict] = ()) -> dict[str, str]:
    """Each node's group path (`""` when it belongs to no module)."""
    by_seq: dict[int, str] = {}
    for n in (*reference, *nodes):
        if n.get("module") and n.get("seq_nr") is not None:
            by_seq.setdefault(int(n["seq_nr"]), str(n["module"]))
    paths: dict[str, str] = {}
    for n in nodes:
        path = n.get("module")
        if not path and n.get("param"):
            path = str(n["param"]).rpartition(".")[0]
        if not path and n.get("seq_nr") is not None:
            path = by_seq.get(int(n["seq_nr"]))
        if not path and n.get("op") not in ("placeholder", "output"):
            path = next((paths[i] for i in n.get("inputs", ()) if paths.get(i)), None)
        paths[str(n["name"])] = path or ""
    return paths


def _child(path: str, expand: str) -> str | None:
    """The child group of `expand` containing `path`, `""` if directly in it, None if outside."""
    if expand and path != expand and not path.startswith(expand + "."):
        return None
    rest = path[len(expand) + 1:] if expand else path
    if expand and path == expand:
        rest = ""
    if not rest:
        return ""
    head = rest.split(".")[0]
    return f"{expand}.{head}" if expand else head


def build_level(nodes: Sequence[NodeDict], paths: Mapping[str, str], expand: str = "") -> Level:
    """The items and edges of the level `expand` (collapsed child groups)."""
    if expand and not any(p == expand or p.startswith(expand + ".") for p in paths.values()):
        raise UnknownGroup(f"expand: no group {expand!r} in this graph")
    rep: dict[str, str] = {}
    groups: dict[str, list[NodeDict]] = {}
    node_items: list[Item] = []
    order: list[str] = []
    for n in nodes:
        name = str(n["name"])
        child = _child(paths.get(name, ""), expand)
        if child is None:
            continue
        if child == "":
            rep[name] = f"n:{name}"
            node_items.append(Item(id=f"n:{name}", kind="node", label=_node_label(n),
                                   status=str(n.get("status") or ""), name=name,
                                   op=str(n.get("op")), path=paths.get(name) or None))
            order.append(f"n:{name}")
        else:
            rep[name] = f"g:{child}"
            if child not in groups:
                groups[child] = []
                order.append(f"g:{child}")
            groups[child].append(n)
    items: dict[str, Item] = {i.id: i for i in node_items}
    for path, members in groups.items():
        counts = Counter(str(m.get("status") or "") for m in members)
        types = {m.get("module_type") for m in members if m.get("module") == path}
        kind_label = f" ({next(iter(types))})" if len(types) == 1 and None not in types else ""
        items[f"g:{path}"] = Item(
            id=f"g:{path}", kind="group", path=path, node_count=len(members),
            status=_group_status(counts), status_counts=dict(sorted(counts.items())),
            label=f"{path.rpartition('.')[2] if expand else path}{kind_label}\n"
                  f"{len(members)} ops · " + " · ".join(f"{c} {s}" for s, c in
                                                       sorted(counts.items()) if s))
    edges: dict[tuple[str, str], None] = {}
    for n in nodes:
        dst = rep.get(str(n["name"]))
        if dst is None:
            continue
        for src_name in n.get("inputs", ()):
            src = rep.get(src_name)
            if src is None:
                src = f"x:{src_name}"
                if src not in items:
                    items[src] = Item(id=src, kind="stub", label=src_name, name=src_name,
                                      path=paths.get(src_name) or None)
                    order.append(src)
            if src != dst:
                edges[(src, dst)] = None
    return Level(expand=expand, items=tuple(items[i] for i in order), edges=tuple(edges))


def _group_status(counts: Counter[str]) -> str:
    for status in ("saved", "recomputed", "recompute", "gradient", "forward_only"):
        if counts.get(status):
            return status
    return "mixed"


def _node_label(n: NodeDict) -> str:
    target = str(n.get("target") or "")
    short = target.removeprefix("aten.").rsplit(".default", 1)[0]
    shape = n.get("shape")
    dims = "×".join(str(d) for d in shape) if shape else ""
    return f"{n['name']}\n{short}" + (f"\n{dims}" if dims else "")
