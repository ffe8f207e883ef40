"""Graph levels: nodes grouped by module path, each expanded group shown on its own.

A node's group path is its `module` (`blocks.3.attn.qkv`). Nodes without one borrow it: a
parameter placeholder from its parameter's owner, a backward op from the forward op with the
same autograd `seq_nr`, anything else from its first input that has one. A level is the
content of one expanded group path (`""` is the top): its direct nodes, one collapsed group per
child path, the edges between them, and stubs for inputs that come from outside the level.
Groups of the level can also be opened in place (`open`, nested, several at once): an open
group is drawn as a cluster around its own nodes and collapsed children.
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
    #: bytes of the group's members per status (views count 0: they allocate nothing)
    status_bytes: dict[str, int] = field(default_factory=dict)
    #: the open group (cluster) this item is drawn in; `""` for the level itself
    parent: str = ""
    #: full text of a label cut to fit its box
    tooltip: str = ""


@dataclass(frozen=True)
class Cluster:
    """A group opened in place: drawn as a box around its items (`id="c:<path>"`)."""

    path: str
    parent: str
    label: str
    node_count: int
    status_counts: dict[str, int]
    status_bytes: dict[str, int]


@dataclass(frozen=True)
class Level:
    expand: str
    items: tuple[Item, ...]
    edges: tuple[tuple[str, str], ...]
    clusters: tuple[Cluster, ...] = ()

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


def child_groups(paths: Mapping[str, str], expand: str, depth: int) -> set[str]:
    """Every group path below `expand` at most `depth` levels down (for "expand all to depth")."""
    found: set[str] = set()
    for path in set(paths.values()):
        parent = expand
        for _ in range(depth):
            child = _child(path, parent) if path else None
            if not child:
                break
            found.add(child)
            parent = child
    return found


def _between(expand: str, path: str) -> list[str]:
    """The group paths strictly between `expand` and `path`."""
    out, child = [], _child(path, expand)
    while child and child != path:
        out.append(child)
        child = _child(path, child)
    return out


def _place(path: str, expand: str, open_paths: frozenset[str]) -> tuple[str, str] | None:
    """(container, group) of a node at `path`: the open group it is drawn in (`""` for the
    level) and the collapsed group that stands for it (`""` when it is drawn itself)."""
    child = _child(path, expand)
    if child is None:
        return None
    container = ""
    while child and child in open_paths:
        container = child
        child = _child(path, child) or ""
    return container, child


def _sizes(members: Sequence[NodeDict]) -> tuple[dict[str, int], dict[str, int]]:
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for m in members:
        status = str(m.get("status") or "")
        counts[status] += 1
        if not m.get("view_of"):
            sizes[status] += int(m.get("bytes") or 0)
    return dict(sorted(counts.items())), {s: b for s, b in sorted(sizes.items()) if b}


def _type_label(path: str, members: Sequence[NodeDict]) -> str:
    types = {m.get("module_type") for m in members if m.get("module") == path}
    return f" ({next(iter(types))})" if len(types) == 1 and None not in types else ""


def build_level(nodes: Sequence[NodeDict], paths: Mapping[str, str], expand: str = "",
                open_paths: Iterable[str] = ()) -> Level:
    """The items and edges of the level `expand`; groups in `open_paths` (below `expand`)
    are opened in place, the others stay collapsed."""
    if expand and not any(p == expand or p.startswith(expand + ".") for p in paths.values()):
        raise UnknownGroup(f"expand: no group {expand!r} in this graph")
    wanted = {p for p in open_paths if p != expand and _child(p, expand)}
    # a group opens only when the groups around it are open too: otherwise it is not on screen
    opened = frozenset(p for p in wanted if all(
        a in wanted for a in _between(expand, p)))
    rep: dict[str, str] = {}
    groups: dict[str, list[NodeDict]] = {}
    group_parent: dict[str, str] = {}
    cluster_members: dict[str, list[NodeDict]] = {}
    node_items: list[Item] = []
    order: list[str] = []
    for n in nodes:
        name = str(n["name"])
        path = paths.get(name, "")
        placed = _place(path, expand, opened)
        if placed is None:
            continue
        container, child = placed
        for open_path in opened:
            if path == open_path or path.startswith(open_path + "."):
                cluster_members.setdefault(open_path, []).append(n)
        if not child:
            label, tip = _node_label(n)
            rep[name] = f"n:{name}"
            node_items.append(Item(id=f"n:{name}", kind="node", label=label, tooltip=tip,
                                   status=str(n.get("status") or ""), name=name,
                                   op=str(n.get("op")), path=path or None, parent=container))
            order.append(f"n:{name}")
        else:
            rep[name] = f"g:{child}"
            if child not in groups:
                groups[child] = []
                group_parent[child] = container
                order.append(f"g:{child}")
            groups[child].append(n)
    items: dict[str, Item] = {i.id: i for i in node_items}
    for path, members in groups.items():
        counts, sizes = _sizes(members)
        short = path.rpartition(".")[2] if expand or group_parent[path] else path
        title = f"{short}{_type_label(path, members)}"
        items[f"g:{path}"] = Item(
            id=f"g:{path}", kind="group", path=path, node_count=len(members),
            status=_group_status(counts), status_counts=counts, status_bytes=sizes,
            parent=group_parent[path], label=_fit(title, 26), tooltip=path)
    clusters = []
    for path in sorted(cluster_members, key=lambda p: (p.count("."), p)):
        members = cluster_members[path]
        counts, sizes = _sizes(members)
        parent = next((o for o in sorted(opened, key=len, reverse=True)
                       if path.startswith(o + ".")), "")
        clusters.append(Cluster(path=path, parent=parent, node_count=len(members),
                                label=f"{path.rpartition('.')[2]}{_type_label(path, members)}",
                                status_counts=counts, status_bytes=sizes))
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
                    items[src] = Item(id=src, kind="stub", label=_fit(src_name, 24),
                                      tooltip=f"{src_name}: from another level",
                                      name=src_name, path=paths.get(src_name) or None)
                    order.append(src)
            if src != dst:
                edges[(src, dst)] = None
    return Level(expand=expand, items=tuple(items[i] for i in order), edges=tuple(edges),
                 clusters=tuple(clusters))


#: statuses a group's tint may take: the most frequent of them among its members
_TINTS = ("saved", "recomputed", "recompute", "forward_only", "gradient")


def _group_status(counts: Mapping[str, int]) -> str:
    """The dominant status (by count) among the members; only a secondary cue beside the
    proportion bar, which shows all of them."""
    best = max(_TINTS, key=lambda s: (counts.get(s, 0), -_TINTS.index(s)))
    return best if counts.get(best) else "mixed"


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` characters with an ellipsis (the box keeps a consistent size)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _node_label(n: NodeDict) -> tuple[str, str]:
    """(label, tooltip): name, short op and shape, each cut to fit; the tooltip in full."""
    target = str(n.get("target") or "")
    short = target.removeprefix("aten.").rsplit(".default", 1)[0]
    shape = n.get("shape")
    dims = "×".join(str(d) for d in shape) if shape else ""
    lines = [str(n["name"])] + ([short] if short and short != n["name"] else []) \
        + ([dims] if dims else [])
    full = "\n".join(lines)
    return "\n".join(_fit(line, 22) for line in lines), full
