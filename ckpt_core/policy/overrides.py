"""What-if overrides: selectors over the captured joint graph and the checkpoint tags they ask for.

An `Override` pairs a selector with an action:

    node:addmm_3            one joint-graph node (by its FX name, in every compiled region)
    op:aten.addmm.default   every forward call of an op; globs allowed (`op:aten.mm.*`); an op
                            inductor decomposed is selected by the op the policy saw (`aten.gelu`)
    module:blocks.*.mlp     every forward op of a module subtree; globs over module paths
    region:2                every op of checkpoint region 2 (the analysis' `ac_region`)

    MUST_SAVE, PREFER_SAVE, MUST_RECOMPUTE, PREFER_RECOMPUTE   the `CheckpointPolicy` to tag
    NO_CHECKPOINT                                            remove the checkpoint altogether

`resolve(analysis, overrides)` turns them into a `TagPlan`: the tag and checkpoint region every
forward op of the joint graph should carry, exactly what a policy function would have produced,
so that only torch's partitioner has to run again. A change no real policy can make is adjusted
to the closest one a policy can, and the adjustment is said in `TagPlan.notes`.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from ..errors import OverrideError
from ..ir import Analysis, Node

Action = Literal["MUST_SAVE", "PREFER_SAVE", "MUST_RECOMPUTE", "PREFER_RECOMPUTE", "NO_CHECKPOINT"]
ACTIONS: tuple[Action, ...] = (
    "MUST_SAVE", "PREFER_SAVE", "MUST_RECOMPUTE", "PREFER_RECOMPUTE", "NO_CHECKPOINT",
)
SelectorKind = Literal["node", "op", "module", "region"]
SELECTOR_KINDS: tuple[SelectorKind, ...] = ("node", "op", "module", "region")

#: Ops torch's selective checkpointing never shows to a policy (`SAC_IGNORED_OPS`).
POLICY_BLIND_OPS = frozenset({"aten.detach.default", "prim.device.default"})
_OP_RE = re.compile(r"^[A-Za-z_*?\[\]][\w*?\[\].]*$")
_MODULE_RE = re.compile(r"^[\w*?\[\].-]*$")


@dataclass(frozen=True)
class Override:
    """One change: `selector` (`kind:pattern`, see the module docstring) set to `action`."""

    selector: str
    action: Action

    @property
    def kind(self) -> SelectorKind:
        return cast(SelectorKind, self.selector.split(":", 1)[0])

    @property
    def pattern(self) -> str:
        return self.selector.split(":", 1)[1]

    def to_dict(self) -> dict[str, str]:
        return {"selector": self.selector, "action": self.action}

    def __str__(self) -> str:
        return f"{self.selector} → {self.action}"


def parse_override(selector: str, action: str) -> Override:
    """A checked `Override`; `OverrideError` names what is wrong with the selector or action."""
    if action not in ACTIONS:
        raise OverrideError(f"override action {action!r} is not one of {', '.join(ACTIONS)}")
    if not isinstance(selector, str) or ":" not in selector:
        raise OverrideError(
            f"selector {selector!r}: write KIND:PATTERN with KIND one of "
            f"{', '.join(SELECTOR_KINDS)} (e.g. op:aten.mm.default, module:blocks.*.mlp)")
    kind, pattern = selector.split(":", 1)
    kind, pattern = kind.strip(), pattern.strip()
    if kind not in SELECTOR_KINDS:
        raise OverrideError(
            f"selector {selector!r}: unknown kind {kind!r}; use one of {', '.join(SELECTOR_KINDS)}")
    if kind == "region":
        if not pattern.isdigit() or int(pattern) < 1:
            raise OverrideError(
                f"selector {selector!r}: a region is a checkpoint region number (1, 2, …)")
    elif kind == "op" and not _OP_RE.match(pattern):
        raise OverrideError(
            f"selector {selector!r}: an op is written like aten.addmm.default or aten.mm.*")
    elif kind == "node" and not re.match(r"^\w+$", pattern):
        raise OverrideError(f"selector {selector!r}: a node is its FX name, e.g. node:addmm_3")
    elif kind == "module" and not _MODULE_RE.match(pattern):
        raise OverrideError(
            f"selector {selector!r}: a module is a dotted path with globs, e.g. blocks.*.mlp")
    return Override(selector=f"{kind}:{pattern}", action=action)


def overrides_from_list(items: Iterable[Any]) -> tuple[Override, ...]:
    """Overrides from their JSON form (`[{"selector": …, "action": …}, …]`)."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"selector", "action"}:
            raise OverrideError(
                f"overrides[{i}]: expected {{\"selector\": …, \"action\": …}}, got {item!r}")
        out.append(parse_override(str(item["selector"]), str(item["action"])))
    return tuple(out)


@dataclass(frozen=True)
class Tag:
    """What one forward op carries into the partitioner: its `CheckpointPolicy` name and its
    checkpoint region (both None: not checkpointed)."""

    policy: str | None
    ac_region: int | None


@dataclass(frozen=True)
class RegionOrigin:
    """Where a checkpoint region of the plan comes from: `base_region` (its number in the
    analysis the overrides were applied to) or, for a region the plan adds, `wraps_module`
    (the module whose forward the exported code runs under `checkpoint`)."""

    base_region: int | None = None
    wraps_module: str | None = None


@dataclass(frozen=True)
class TagPlan:
    """The tags every forward op of every compiled region should carry.

    `tags[region_index][node_name]`; `origins` by the plan's checkpoint region numbers (which
    are in order of first appearance, as the analysis numbers them); `matched` counts the ops
    each override selected; `notes` says where a change was adjusted to what a policy can do.
    """

    tags: dict[int, dict[str, Tag]]
    origins: dict[int, RegionOrigin]
    matched: dict[str, int]
    changed: int
    notes: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = field(default_factory=tuple)


def _forward_ops(analysis: Analysis) -> list[tuple[int, Node]]:
    """Every op a policy could tag: call_function nodes of the joint graphs' forward part."""
    out = []
    for region in analysis.regions:
        joint = region.graphs.get("joint")
        for n in joint.nodes if joint else ():
            if n.op == "call_function" and n.partitioner_tag != "is_backward":
                out.append((region.index, n))
    return out


def call_op(n: Node) -> str:
    """The op a policy function is called with for this node."""
    return n.policy_op or n.target


def call_groups(ops: Sequence[tuple[int, Node]]) -> list[list[tuple[int, Node]]]:
    """Nodes grouped by the policy call that made them: consecutive nodes of one decomposed
    call share the call's op and autograd sequence number."""
    groups: list[list[tuple[int, Node]]] = []
    for item in ops:
        region, n = item
        if groups:
            head_region, head = groups[-1][0]
            if (head_region == region and n.seq_nr is not None and n.seq_nr == head.seq_nr
                    and (n.target == "operator.getitem"
                         or (n.policy_op is not None and call_op(n) == call_op(head)))):
                groups[-1].append(item)
                continue
        groups.append([item])
    return groups


def _module_prefixes(module: str | None) -> list[str]:
    parts = (module or "").split(".") if module else []
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _module_match(pattern: str, module: str | None) -> str | None:
    """The outermost module path of `module`'s ancestry (itself included) matching `pattern`."""
    if pattern in ("", "*"):
        return ""
    hit = None
    for prefix in _module_prefixes(module):
        if fnmatch.fnmatchcase(prefix, pattern):
            hit = prefix
    return hit


def _close(word: str, choices: Iterable[str]) -> str:
    every = sorted(set(choices))
    near = difflib.get_close_matches(word, every, n=3, cutoff=0.5)
    if near:
        return f"; did you mean {', '.join(near)}?"
    more = f", … ({len(every)} in all)" if len(every) > 8 else ""
    return f"; this program has {', '.join(every[:8])}{more}" if every else ""


Selection = dict[tuple[int, str], str | None]


def _select(o: Override, analysis: Analysis, ops: list[tuple[int, Node]]) -> Selection:
    """(region index, node name) → the module to wrap if it is not checkpointed (None: its
    innermost module). Raises `OverrideError` when nothing matches, saying why."""
    pattern = o.pattern
    if o.kind == "node":
        hits: Selection = {(r, n.name): None for r, n in ops if n.name == pattern}
        if not hits:
            for region in analysis.regions:
                for g in region.graphs.values():
                    for n in g.nodes:
                        if n.name == pattern:
                            raise OverrideError(_not_taggable(o, n, g.kind))
            raise OverrideError(f"{o.selector} matches no op of the joint graph"
                                + _close(pattern, (n.name for _, n in ops)))
        return hits
    if o.kind == "op":
        hits = {key: None for key in ((r, n.name) for r, n in ops
                                      if fnmatch.fnmatchcase(call_op(n), pattern)
                                      or fnmatch.fnmatchcase(n.target, pattern))}
        blind = sorted({call_op(n) for r, n in ops if (r, n.name) in hits} & POLICY_BLIND_OPS)
        if blind:
            raise OverrideError(f"{o.selector}: {', '.join(blind)} is never shown to a "
                                "checkpoint policy (selective checkpointing ignores it)")
        if not hits:
            backward = {n.target for region in analysis.regions
                        for n in (region.graphs["joint"].nodes if "joint" in region.graphs else ())
                        if n.partitioner_tag == "is_backward"
                        and fnmatch.fnmatchcase(n.target, pattern)}
            if backward:
                raise OverrideError(f"{o.selector}: {', '.join(sorted(backward))} runs only in "
                                    "backward; a checkpoint policy tags forward ops")
            raise OverrideError(f"{o.selector}: no forward op of this program is {pattern}"
                                + _close(pattern, (call_op(n) for _, n in ops)))
        return hits
    if o.kind == "module":
        found: dict[tuple[int, str], str | None] = {}
        for r, n in ops:
            m = _module_match(pattern, n.module)
            if m is not None:
                found[(r, n.name)] = m
        if not found:
            modules = {p for _, n in ops for p in _module_prefixes(n.module)}
            raise OverrideError(f"{o.selector} matches no module that runs a forward op"
                                + _close(pattern, modules))
        return found
    region_no = int(pattern)
    hits = {(r, n.name): None for r, n in ops if n.requested_policy and n.ac_region == region_no}
    if not hits:
        present = sorted({n.ac_region for _, n in ops if n.ac_region is not None})
        have = (f"its checkpoint regions are {', '.join(map(str, present))}" if present
                else "it has no checkpoint region")
        raise OverrideError(f"{o.selector}: this program has no checkpoint region {region_no}; "
                            + have)
    return hits


def _not_taggable(o: Override, n: Node, graph: str) -> str:
    if n.op == "placeholder":
        what = f"a graph input ({n.param or 'an input or tangent'})"
    elif n.op == "output":
        what = "the graph's output"
    elif n.partitioner_tag == "is_backward" or graph == "backward":
        what = "a backward op"
    else:
        what = f"a {n.op} node"
    return (f"{o.selector}: {n.name} is {what}; a checkpoint policy can only tag forward ops "
            "(call_function nodes of the forward)")


def resolve(analysis: Analysis, overrides: Sequence[Override]) -> TagPlan:
    """The tag plan the overrides ask for, applied in order on top of the analysis' requested
    tags (a later override wins where two select the same op)."""
    if not overrides:
        raise OverrideError("give at least one override (e.g. --save op:aten.mm.default)")
    ops = _forward_ops(analysis)
    if not ops:
        raise OverrideError("this analysis has no joint graph (nothing requires grad), so there "
                            "is nothing a checkpoint policy could change")
    state: dict[tuple[int, str], Tag] = {
        (r, n.name): Tag(n.requested_policy, n.ac_region if n.requested_policy else None)
        for r, n in ops}
    origin: dict[int, RegionOrigin] = {t.ac_region: RegionOrigin(base_region=t.ac_region)
                                       for t in state.values() if t.ac_region is not None}
    groups = call_groups(ops)
    group_of = {(r, n.name): i for i, g in enumerate(groups) for r, n in g}
    module_of = {(r, n.name): n.module for r, n in ops}
    notes: list[str] = []
    matched: dict[str, int] = {}
    next_region = max(origin, default=0) + 1
    for o in overrides:
        selected = _select(o, analysis, ops)
        # a policy tags calls, not the nodes a decomposition made of them
        whole = {key for i in {group_of[k] for k in selected} for key in
                 ((r, n.name) for r, n in groups[i])}
        if extra := whole - set(selected):
            ops_named = sorted({call_op(n) for r, n in ops if (r, n.name) in extra})
            notes.append(f"{o.selector}: {len(extra)} more node(s) take the change because a "
                         f"policy sees their whole call ({', '.join(ops_named)})")
            selected = {**{k: None for k in extra}, **selected}
        matched[o.selector] = len(selected)
        if o.action == "NO_CHECKPOINT":
            next_region = _no_checkpoint(o, selected, state, notes, next_region)
            continue
        outside = {k: w for k, w in selected.items() if state[k].ac_region is None}
        if o.action == "PREFER_SAVE" and outside:
            notes.append(f"{o.selector}: {len(outside)} op(s) outside any checkpoint are left "
                         "untagged, which the partitioner treats as PREFER_SAVE")
            selected = {k: w for k, w in selected.items() if k not in outside}
            outside = {}
        if o.kind == "op" and outside and len(outside) < len(selected):
            # "this op everywhere" means everywhere a policy acts: inside checkpoints
            notes.append(f"{o.selector}: {len(outside)} call(s) outside any checkpoint region "
                         "are left as they are; select their module to checkpoint it too")
            selected = {k: w for k, w in selected.items() if k not in outside}
            outside = {}
            matched[o.selector] = len(selected)
        wraps: dict[str, int] = {}
        for key, wrap in outside.items():
            module = wrap if wrap is not None else (module_of[key] or "")
            if module not in wraps:
                _check_wrappable(o, module, state, module_of)
                wraps[module] = next_region
                origin[next_region] = RegionOrigin(wraps_module=module)
                next_region += 1
        for module, region_no in wraps.items():
            # the module runs under checkpoint: its other ops are tagged too, PREFER_SAVE being
            # what an untagged op is to the partitioner
            for key, m in module_of.items():
                if state[key].ac_region is None and _within(m, module):
                    state[key] = Tag("PREFER_SAVE", region_no)
        if wraps:
            notes.append(f"{o.selector}: not checkpointed until now; the exported code runs "
                         f"{', '.join(repr(m or 'model') for m in wraps)} under checkpoint, its "
                         "other ops PREFER_SAVE")
        for key in selected:
            state[key] = Tag(o.action, state[key].ac_region)
    return _renumbered(ops, state, origin, matched, notes, tuple(overrides))


def _within(module: str | None, outer: str) -> bool:
    return outer == "" or module == outer or (module or "").startswith(outer + ".")


def _check_wrappable(o: Override, module: str, state: dict[tuple[int, str], Tag],
                     module_of: dict[tuple[int, str], str | None]) -> None:
    inner = sorted({t.ac_region for k, t in state.items()
                    if t.ac_region is not None and _within(module_of[k], module)})
    if inner:
        raise OverrideError(
            f"{o.selector}: {module or 'the model'} is not checkpointed, and checkpointing it "
            f"would nest checkpoint region(s) {', '.join(map(str, inner))} inside it; select "
            "the ops inside those regions, or a smaller module")


def _no_checkpoint(o: Override, selected: dict[tuple[int, str], str | None],
                   state: dict[tuple[int, str], Tag], notes: list[str], next_region: int) -> int:
    regions = {state[k].ac_region for k in selected} - {None}
    if not regions:
        notes.append(f"{o.selector}: already not checkpointed")
    for region_no in sorted(r for r in regions if r is not None):
        members = [k for k, t in state.items() if t.ac_region == region_no]
        if all(k in selected for k in members):
            for k in members:
                state[k] = Tag(None, None)
        else:
            part = [k for k in members if k in selected]
            for k in part:
                state[k] = Tag("PREFER_SAVE", region_no)
            notes.append(
                f"{o.selector}: {len(part)} op(s) of checkpoint region {region_no} cannot leave "
                "it alone (a checkpoint covers its whole function); they are PREFER_SAVE instead, "
                "which the partitioner treats as not checkpointed")
    return next_region


def _renumbered(ops: list[tuple[int, Node]], state: dict[tuple[int, str], Tag],
                origin: dict[int, RegionOrigin], matched: dict[str, int], notes: list[str],
                overrides: tuple[Override, ...]) -> TagPlan:
    """Checkpoint regions numbered 1, 2, … by first appearance, as the analysis numbers them."""
    mapping: dict[int, int] = {}
    for key in ((r, n.name) for r, n in ops):
        region_no = state[key].ac_region
        if region_no is not None and region_no not in mapping:
            mapping[region_no] = len(mapping) + 1
    tags: dict[int, dict[str, Tag]] = {}
    changed = 0
    for r, n in ops:
        t = state[(r, n.name)]
        t = Tag(t.policy, mapping[t.ac_region]) if t.ac_region is not None else t
        tags.setdefault(r, {})[n.name] = t
        if t.policy != n.requested_policy:
            changed += 1
    return TagPlan(tags=tags, origins={mapping[k]: v for k, v in origin.items() if k in mapping},
                   matched=matched, changed=changed, notes=tuple(notes), overrides=overrides)
