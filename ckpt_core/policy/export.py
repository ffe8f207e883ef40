"""Code for a what-if plan: `policy_fn`s for `create_selective_checkpoint_contexts`, and the snippet
with them applied.

The rules are read back from the plan's joint graph (the tags it asks the partitioner to honour),
per checkpointed module: a default tag, one rule per op whose calls all agree, and per-call
counters (as PyTorch's own selective-checkpoint tests write them) for an op whose calls differ.
A checkpoint call is told apart from another by the module it checkpoints, so two calls of one
module cannot take different policies; `PolicyCode.notes` says so when a plan would need it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Analysis, Node
from .overrides import POLICY_BLIND_OPS, Override, TagPlan, call_groups, call_op

_OP_NAME = re.compile(r"^(\w+)\.(\w+)\.(\w+)$")


@dataclass(frozen=True)
class PolicyRules:
    """One policy: `default` for every op without a rule, `ops` by op, `calls` by (op, n) for
    the n-th call (1-based) of an op within one checkpoint call."""

    default: str
    ops: tuple[tuple[str, str], ...]
    calls: tuple[tuple[str, int, str], ...]

    @property
    def plain(self) -> bool:
        """Plain `checkpoint` (no policy) tags every op PREFER_RECOMPUTE."""
        return self.default == "PREFER_RECOMPUTE" and not self.ops and not self.calls


@dataclass(frozen=True)
class PolicyCode:
    """What `export_policy` returns: the policy module's `code`, the per-module `rules`,
    checkpointed modules that are no longer (`not_checkpointed`), modules newly run under
    checkpoint (`checkpoint_modules`), the torchtitan-style `save_list` when every policy is
    op-level, and `notes` on what a policy cannot express."""

    code: str
    rules: dict[str, PolicyRules]
    not_checkpointed: tuple[str, ...]
    checkpoint_modules: tuple[str, ...]
    save_list: tuple[str, ...] | None
    notes: tuple[str, ...]


def _region_modules(analysis: Analysis) -> dict[int, str]:
    """Each checkpoint region's module: the longest module path all its ops run in."""
    paths: dict[int, list[list[str]]] = {}
    for region in analysis.regions:
        joint = region.graphs.get("joint")
        for n in joint.nodes if joint else ():
            if n.ac_region is not None and n.requested_policy and n.op == "call_function":
                paths.setdefault(n.ac_region, []).append((n.module or "").split(".")
                                                          if n.module else [])
    out = {}
    for region_no, parts in paths.items():
        common = parts[0]
        for p in parts[1:]:
            k = 0
            while k < min(len(common), len(p)) and common[k] == p[k]:
                k += 1
            common = common[:k]
        out[region_no] = ".".join(common)
    return out


def _rules(calls: Sequence[tuple[str, str]]) -> PolicyRules:
    seen = [(op, tag) for op, tag in calls if op not in POLICY_BLIND_OPS]
    if not seen:
        return PolicyRules("PREFER_RECOMPUTE", (), ())
    default = Counter(tag for _, tag in seen).most_common(1)[0][0]
    by_op: dict[str, list[str]] = {}
    for op, tag in seen:
        by_op.setdefault(op, []).append(tag)
    ops, counted = [], []
    for op, tags in by_op.items():
        majority = Counter(tags).most_common(1)[0][0]
        if majority != default:
            ops.append((op, majority))
        counted += [(op, i + 1, tag) for i, tag in enumerate(tags) if tag != majority]
    return PolicyRules(default, tuple(sorted(ops)), tuple(counted))


def export_policy(plan_analysis: Analysis, base: Analysis, plan: TagPlan) -> PolicyCode:
    """The policy code reproducing `plan_analysis`' tags (the analysis of `plan` on `base`)."""
    base_modules = _region_modules(base)
    ops = [(r.index, n) for r in plan_analysis.regions
           for n in (r.graphs["joint"].nodes if "joint" in r.graphs else ())
           if n.op == "call_function" and n.partitioner_tag != "is_backward"]
    calls: dict[int, list[tuple[str, str]]] = {}
    for group in call_groups(ops):
        head: Node = group[0][1]
        if head.ac_region is not None and head.requested_policy:
            calls.setdefault(head.ac_region, []).append((call_op(head), head.requested_policy))
    notes: list[str] = []
    rules: dict[str, PolicyRules] = {}
    new_modules: list[str] = []
    for region_no in sorted(calls):
        origin = plan.origins.get(region_no)
        if origin is not None and origin.wraps_module is not None:
            module = origin.wraps_module
            new_modules.append(module)
        elif origin is not None and origin.base_region is not None:
            module = base_modules.get(origin.base_region, "")
        else:  # pragma: no cover - every plan region has an origin
            continue
        r = _rules(calls[region_no])
        if module in rules and rules[module] != r:
            notes.append(f"checkpoint region {region_no} ({module or 'model'}): another call of "
                         "the same module needs other tags; a policy is chosen per module, so "
                         "the exported code gives it the first call's policy")
            continue
        rules[module] = r
    gone = sorted({m for b, m in base_modules.items()
                   if not any(o.base_region == b for o in plan.origins.values())} - set(rules))
    save_list = _save_list(rules)
    code = _render(rules, gone, new_modules, save_list, plan, plan_analysis)
    return PolicyCode(code=code, rules=rules, not_checkpointed=tuple(gone),
                      checkpoint_modules=tuple(new_modules), save_list=save_list,
                      notes=tuple(notes))


def _save_list(rules: dict[str, PolicyRules]) -> tuple[str, ...] | None:
    """torchtitan's form (`MUST_SAVE if op in _save_list else PREFER_RECOMPUTE`) when every
    policy has that shape and they agree."""
    shapes = {tuple(op for op, tag in r.ops) for r in rules.values() if not r.plain}
    if len(shapes) != 1:
        return None
    ok = all(r.plain or (r.default == "PREFER_RECOMPUTE" and not r.calls
                         and all(tag == "MUST_SAVE" for _, tag in r.ops))
             for r in rules.values())
    return next(iter(shapes)) if ok else None


def _op_expr(op: str) -> str:
    m = _OP_NAME.match(op)
    if not m:
        return f"None  # {op}: not an op a policy is called with"
    ns, name, overload = m.groups()
    return f"{ns}.{name}.{overload}" if ns == "aten" else f"torch.ops.{ns}.{name}.{overload}"


def _ident(module: str) -> str:
    return re.sub(r"\W", "_", module) or "model"


def _policy_source(name: str, r: PolicyRules) -> list[str]:
    lines = [f"def {name}():",
             '    """A fresh policy_fn for each checkpoint call (its counters start at 0)."""']
    if r.calls:
        lines.append("    calls = collections.Counter()")
    lines += ["", "    def policy_fn(ctx, op, *args, **kwargs):"]
    if r.calls:
        lines += ['        mode = "recompute" if ctx.is_recompute else "forward"',
                  "        calls[mode, op] += 1"]
        for op, n, tag in r.calls:
            lines += [f"        if op == {_op_expr(op)} and calls[mode, op] == {n}:",
                      f"            return CheckpointPolicy.{tag}"]
    by_tag: dict[str, list[str]] = {}
    for op, tag in r.ops:
        by_tag.setdefault(tag, []).append(op)
    for tag, op_list in sorted(by_tag.items()):
        members = ", ".join(_op_expr(o) for o in op_list)
        lines += [f"        if op in {{{members}}}:", f"            return CheckpointPolicy.{tag}"]
    lines += [f"        return CheckpointPolicy.{r.default}", "", "    return policy_fn", ""]
    return lines


_HELPERS = '''
def _context_for(path):
    return create_selective_checkpoint_contexts(POLICIES[path]())


def context_fn(path):
    """`context_fn` for `checkpoint(...)` of the module at `path`; None means plain checkpoint."""
    if POLICIES.get(path) is None:
        return None
    return functools.partial(_context_for, path)


_CHECKPOINT_OPTIONS = ("use_reentrant", "context_fn", "determinism_check", "debug",
                       "preserve_rng_state", "early_stop")
_torch_checkpoint = torch.utils.checkpoint.checkpoint


def whatif_checkpoint(fn, *args, **kwargs):
    """`checkpoint` with this file's policies, chosen by the module `fn` belongs to."""
    owner = fn.__self__ if isinstance(fn, types.MethodType) else fn
    path = _KEYS.get(getattr(owner, "_ckptscope_path", None))
    if path in NOT_CHECKPOINTED:
        return fn(*args, **{k: v for k, v in kwargs.items() if k not in _CHECKPOINT_OPTIONS})
    if path in POLICIES:
        kwargs.pop("context_fn", None)
        if POLICIES[path] is not None:
            kwargs["context_fn"] = context_fn(path)
    return _torch_checkpoint(fn, *args, **kwargs)


def _checkpointed(module, path):
    inner = module.forward

    def forward(*args, **kwargs):
        return whatif_checkpoint(inner, *args, use_reentrant=False, **kwargs)

    module.forward = forward


_KEYS = {}


def install(model, namespace):
    """Apply the policies: every `checkpoint` name in `namespace` (a snippet's globals()) becomes
    `whatif_checkpoint`, and CHECKPOINT_MODULES run under checkpoint."""
    keys = set(POLICIES) | set(NOT_CHECKPOINTED)
    for path, module in model.named_modules():
        module._ckptscope_path = path
        under = sorted(k for k in keys if k.startswith(path + ".") or not path)
        _KEYS[path] = path if path in keys else (under[0] if len(under) == 1 else None)
    for name, value in list(namespace.items()):
        if value is _torch_checkpoint and name != "_torch_checkpoint":
            namespace[name] = whatif_checkpoint
    for path in CHECKPOINT_MODULES:
        _checkpointed(model.get_submodule(path), path)
'''


def _render(rules: dict[str, PolicyRules], gone: Sequence[str], new_modules: Sequence[str],
            save_list: tuple[str, ...] | None, plan: TagPlan, analysis: Analysis) -> str:
    overrides = "\n".join(f"    {o}" for o in plan.overrides) or "    (none)"
    settings = analysis.settings
    head = [
        f'"""Checkpoint policies exported by `ckpt whatif` for {analysis.snippet_name}.',
        "",
        "Overrides:",
        overrides,
        f"Partitioner: {settings.get('partitioner')}, "
        f"activation_memory_budget={settings.get('memory_budget')}",
        "",
        "Use per module: checkpoint(module, *args, use_reentrant=False, "
        "context_fn=context_fn(PATH)),",
        "or call install(model, globals()) after building the model to apply them all.",
        '"""',
        "",
        "import collections",
        "import functools",
        "import types",
        "",
        "import torch",
        "import torch.utils.checkpoint",
        "from torch.utils.checkpoint import CheckpointPolicy, create_selective_checkpoint_contexts",
        "",
        "aten = torch.ops.aten",
        "",
    ]
    if save_list is not None:
        head += ["# torchtitan-style: save these ops' outputs, recompute the rest",
                 "_save_list = {", *(f"    {_op_expr(op)}," for op in save_list), "}", ""]
    body: list[str] = []
    names: dict[PolicyRules, str] = {}
    table = []
    for module, r in rules.items():
        if r.plain:
            table.append(f"    {module!r}: None,  # plain checkpoint: everything PREFER_RECOMPUTE")
            continue
        if r not in names:
            names[r] = f"policy_for_{_ident(module)}"
            body += _policy_source(names[r], r)
            body.append("")
        table.append(f"    {module!r}: {names[r]},")
    tail = ["#: module path of each checkpointed function → a policy_fn factory (None: plain)",
            "POLICIES = {", *table, "}",
            "#: checkpointed in the snippet, no longer checkpointed",
            f"NOT_CHECKPOINTED = frozenset({sorted(gone)!r})",
            "#: not checkpointed in the snippet, now run under checkpoint",
            f"CHECKPOINT_MODULES = {tuple(new_modules)!r}",
            "",
            "# How each module is checkpointed:"]
    for module, r in rules.items():
        ctx = "" if r.plain else f", context_fn=context_fn({module!r})"
        tail.append(f"#   checkpoint({_module_expr(module)}, ..., use_reentrant=False{ctx})")
    for module in gone:
        tail.append(f"#   {_module_expr(module)}(...)  # no checkpoint")
    return "\n".join(head + body + tail) + "\n" + _HELPERS


def _module_expr(path: str) -> str:
    out = "model"
    for part in path.split(".") if path else []:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def write_snippet(source: str, code: str, overrides: Sequence[Override]) -> str:
    """The snippet with the policy module appended and installed on its `model`."""
    listed = ", ".join(str(o) for o in overrides) or "none"
    return (source.rstrip("\n") + "\n\n\n"
            + "# " + "-" * 96 + "\n"
            + "# ckpt whatif: the checkpoint policies below replace this snippet's own "
            + f"(overrides: {listed}).\n"
            + "# `ckpt analyze` of this file reproduces the what-if plan.\n"
            + "# " + "-" * 96 + "\n"
            + "\n".join(line for line in code.splitlines() if not line.startswith("from __"))
            + "\n\ninstall(model, globals())\n")
