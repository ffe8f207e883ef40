"""Canonical module paths: the same layer gets the same path however the model was wrapped.

torch reports a module by the attribute chain dynamo followed to reach it, so wrappers leave
their own segments in it: `blocks.0.__dict__._checkpoint_wrapped_module.fc1` (torch's
`checkpoint_wrapper`), `_orig_mod.blocks.0` (an already-compiled module), `_fsdp_wrapped_module`
(FSDP1), `module.blocks.0` (DataParallel / DistributedDataParallel) or `args.0.blocks.0` (a
module handed to a function as its first argument). `canonical_module_path` drops those
segments; the IR keeps the raw path beside the canonical one (`Node.module_raw`).

A leading segment that only one of two analyses has (`model.layers.0` against `layers.0`, or
`net.blocks.0` for a model called from a function against `blocks.0`) is not a wrapper: it is a
real attribute. `shared_root_offset` finds such a difference between two analyses so the diff can
line them up; it never changes a stored path.

Pure string functions: no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from .ir import Node

#: Attribute segments that only wrappers and `nn.Module`'s own storage add.
WRAPPER_SEGMENTS = frozenset({
    "_checkpoint_wrapped_module",  # torch.distributed …checkpoint_wrapper
    "__dict__",                    # dynamo reading a wrapper's `_modules` through `__dict__`
    "_orig_mod",                   # an OptimizedModule (torch.compile's wrapper)
    "_fsdp_wrapped_module",        # FSDP1's FlatParameter wrapper
    "_modules", "_parameters", "_buffers",
})
#: Wrappers that keep the model under a `module` attribute (DataParallel, DDP) add it up front.
_LEADING_WRAPPER = "module"
_ARG_SEGMENT = re.compile(r"^(args|kwargs)$")


def canonical_module_path(path: str | None) -> str | None:
    """`blocks.0.__dict__._checkpoint_wrapped_module.fc1` → `blocks.0.fc1`; `None` stays `None`,
    and a path made only of wrapper segments is the model itself (`None`)."""
    if not path:
        return None
    parts = [p for p in path.split(".") if p and p not in WRAPPER_SEGMENTS]
    changed = True
    while changed and parts:
        changed = False
        # `args.0.…` / `kwargs.name.…`: the model handed to a function, not one of its layers
        if len(parts) >= 2 and _ARG_SEGMENT.match(parts[0]):
            parts = parts[2:]
            changed = True
        elif parts[0] == _LEADING_WRAPPER:
            parts = parts[1:]
            changed = True
    return ".".join(parts) if parts else None


def canonical_param_name(name: str | None) -> str | None:
    """A parameter's qualified name with the wrapper segments of its module path dropped."""
    if not name:
        return name
    module, _, leaf = name.rpartition(".")
    owner = canonical_module_path(module) if module else None
    return f"{owner}.{leaf}" if owner else leaf


def strip_root(path: str | None, depth: int) -> str | None:
    """`path` without its first `depth` segments (`None` when nothing is left)."""
    if not path or depth <= 0:
        return path
    parts = path.split(".")
    return ".".join(parts[depth:]) or None


def shared_root_offset(a: Iterable[str], b: Iterable[str]) -> tuple[int, int]:
    """How many leading segments to drop from the paths of `a` and of `b` so that they overlap
    best, when every path of one side starts with segments the other side lacks.

    Returns `(0, 0)` unless dropping a prefix common to *all* paths of one side makes strictly
    more of them equal to paths of the other side (so a model that simply gained a top-level
    module is never re-rooted)."""
    set_a, set_b = set(a), set(b)
    best = (len(set_a & set_b), (0, 0))
    for depth, side in ((d, s) for s in (0, 1) for d in (1, 2)):
        own, other = (set_a, set_b) if side == 0 else (set_b, set_a)
        prefix = _common_prefix(own, depth)
        if prefix is None:
            continue
        stripped = {p for p in (strip_root(x, depth) for x in own) if p}
        overlap = len(stripped & other)
        if overlap > best[0]:
            best = (overlap, (depth, 0) if side == 0 else (0, depth))
    return best[1]


def _common_prefix(paths: set[str], depth: int) -> tuple[str, ...] | None:
    """The first `depth` segments when every path has them in common (a path equal to them is
    the model itself, called through that attribute)."""
    prefix: tuple[str, ...] | None = None
    for p in paths:
        parts = tuple(p.split("."))
        if len(parts) < depth:
            return None
        if prefix is None:
            prefix = parts[:depth]
        elif parts[:depth] != prefix:
            return None
    return prefix


_RNG_MARKERS = ("rng_state", "inductor_seed", "inductor_lookup_seed")


def is_rng_state(node: Node) -> bool:
    """A value that only carries random-number-generator state (a saved RNG state, inductor's
    seeds), as opposed to the random op that consumes it."""
    return any(m in node.name or m in node.target for m in _RNG_MARKERS)


def with_rng_owners(nodes: Sequence[Node]) -> tuple[Node, ...]:
    """`nodes` (one graph, topological order) with each RNG state that has no module given the
    module of the op it is saved for: the first op downstream of it that has a module, and for
    the state an RNG wrapper returns (its `uint8` `getitem`), the wrapper's."""
    if not any(n.module is None for n in nodes):
        return tuple(nodes)
    position = {n.name: i for i, n in enumerate(nodes)}
    users: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        if n.op == "output":
            continue
        for name in n.inputs:
            users.setdefault(name, []).append(i)
    owner: list[str | None] = [None] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):
        n = nodes[i]
        owner[i] = n.module or next(
            (owner[j] for j in sorted(users.get(n.name, ())) if owner[j]), None)
    out: list[Node] = []
    for i, n in enumerate(nodes):
        if n.module is None and is_rng_state(n) and owner[i]:
            n = replace(n, module=owner[i])
        elif (n.module is None and n.target == "operator.getitem" and n.dtype == "uint8"
              and n.inputs and n.inputs[0] in position):
            parent = out[position[n.inputs[0]]] if position[n.inputs[0]] < i else None
            if parent is not None and "rng_state" in parent.target and parent.module:
                n = replace(n, module=parent.module)
        out.append(n)
    return tuple(out)
