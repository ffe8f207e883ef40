"""The readable text summary `ckpt diff` prints (pure: `GraphDiff` in, text out)."""

from __future__ import annotations

from collections.abc import Callable

from ..settings import Settings
from ..units import fmt_bytes, fmt_flops, fmt_seconds
from .compare import ROOT_MODULE
from .model import AnalysisInfo, Comparison, Delta, GraphDiff, ModuleChange, NodeRow

#: Short forms of the forward statuses, for the N-way table.
_SHORT = {"saved": "saved", "recomputed": "recomp", "forward_only": "fw-only",
          "parameter": "param", "input": "input", "unused": "unused"}


def text_report(d: GraphDiff, *, top_modules: int = 40, names_per_module: int = 6,
                top_rows: int = 40) -> str:
    """Inputs, then per comparison: moves, deltas and the changed nodes grouped by module;
    for more than two analyses, the N-way table of nodes whose status differs anywhere."""
    out = [f"diff of {len(d.analyses)} analyses"]
    width = max(len(a.label) for a in d.analyses)
    for a in d.analyses:
        out.append(f"  {a.label:<{width}}  {_describe(a)}")
    for c in d.comparisons:
        out.append("")
        out.extend(_comparison_lines(d, c, top_modules, names_per_module))
    if len(d.analyses) > 2:
        out.append("")
        out.extend(_nway_lines(d, top_rows))
    return "\n".join(out)


def changed_settings(settings: dict[str, object]) -> str:
    """The settings that differ from plain `torch.compile` (device aside), or "defaults"."""
    defaults = Settings().to_dict()
    changed = {k: v for k, v in sorted(settings.items()) if k != "device" and defaults.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults"


def _describe(a: AnalysisInfo) -> str:
    settings = changed_settings(a.settings)
    return (f"{a.snippet_name} · torch {a.torch_version} · {a.device} · settings: {settings} · "
            f"{a.node_count} forward nodes")


def signed(value: int, fmt: Callable[[int], str]) -> str:
    return ("+" if value > 0 else "") + fmt(value) if value else "0"


def _delta(name: str, d: Delta[int] | None, fmt: Callable[[int], str], missing: str) -> str:
    if d is None:
        return f"  Δ {name}: {missing}"
    return f"  Δ {name}: {signed(d.delta, fmt)} ({fmt(d.before)} → {fmt(d.after)})"


def _comparison_lines(
    d: GraphDiff, c: Comparison, top_modules: int, names_per_module: int
) -> list[str]:
    s = c.summary
    a, b = d.analyses[c.base].label, d.analyses[c.other].label
    head = f"{a} → {b}: {s.matched_count} nodes matched"
    if c.summary.is_empty() and not c.changed:
        return [head + "; no changes"]
    lines = [
        head,
        f"  saved → recomputed: {s.saved_to_recomputed.count} node(s) "
        f"({fmt_bytes(s.saved_to_recomputed.bytes)}); recomputed → saved: "
        f"{s.recomputed_to_saved.count} node(s) ({fmt_bytes(s.recomputed_to_saved.bytes)})",
    ]
    others = {k: v for k, v in s.transitions.items()
              if k not in ("saved->recomputed", "recomputed->saved")}
    if others:
        lines.append("  other status changes: " + ", ".join(
            f"{k.replace('->', ' → ')} {v}" for k, v in others.items()))
    lines.append(_delta("saved activations", s.saved_activation_bytes, fmt_bytes, ""))
    lines.append(_delta("recompute FLOPs", s.recompute_flops, fmt_flops, ""))
    if s.recompute_time_s is not None:
        t = s.recompute_time_s
        sign = "+" if t.delta > 0 else "−" if t.delta < 0 else "±"
        lines.append(f"  Δ recompute time (est.): {sign}{fmt_seconds(abs(t.delta))} "
                     f"({fmt_seconds(t.before)} → {fmt_seconds(t.after)})")
    lines.append(_delta("peak", s.peak_bytes, fmt_bytes, "n/a (no memory figures)"))
    lines.append(f"  added {s.added_count}, removed {s.removed_count}, "
                 f"policy changes {s.policy_changes}")
    if c.modules:
        lines.append(f"  by module ({len(c.modules)} changed):")
    by_module: dict[str, list[NodeRow]] = {}
    for key in c.changed:
        row = d.row(key)
        by_module.setdefault(row.module or ROOT_MODULE, []).append(row)
    for m in c.modules[:top_modules]:
        lines.append("    " + _module_line(m))
        rows = by_module.get(m.module, [])
        shown = [_node_text(r, c.base, c.other) for r in rows[:names_per_module]]
        more = f" … (+{len(rows) - names_per_module})" if len(rows) > names_per_module else ""
        lines.append("      " + ", ".join(shown) + more)
    if len(c.modules) > top_modules:
        lines.append(f"    … {len(c.modules) - top_modules} more module(s): see the JSON (-o)")
    return lines


def _module_line(m: ModuleChange) -> str:
    parts = []
    if m.saved_to_recomputed.count:
        parts.append(f"saved→recomputed {m.saved_to_recomputed.count} "
                     f"({fmt_bytes(m.saved_to_recomputed.bytes)})")
    if m.recomputed_to_saved.count:
        parts.append(f"recomputed→saved {m.recomputed_to_saved.count} "
                     f"({fmt_bytes(m.recomputed_to_saved.bytes)})")
    for label, count in (("other status", m.other_status_changes), ("policy", m.policy_changes),
                         ("added", m.added_count), ("removed", m.removed_count)):
        if count:
            parts.append(f"{label} {count}")
    if m.saved_activation_bytes_delta:
        parts.append(f"Δ saved {signed(m.saved_activation_bytes_delta, fmt_bytes)}")
    if m.recompute_flops_delta:
        parts.append(f"Δ recompute {signed(m.recompute_flops_delta, fmt_flops)}")
    return f"{m.module}: " + "; ".join(parts or ["costs changed"])


def _node_text(row: NodeRow, base: int, other: int) -> str:
    a, b = row.states[base], row.states[other]
    line = f" L{row.line}" if row.line is not None else ""
    if a is None and b is not None:
        return f"+{b.name} ({b.status}{line})"
    if b is None and a is not None:
        return f"-{a.name} ({a.status}{line})"
    assert a is not None and b is not None
    what = f"{a.status}→{b.status}" if a.status != b.status else (
        f"policy {a.policy}→{b.policy}" if a.policy != b.policy else "costs")
    return f"{b.name} ({what}{line})"


def _nway_lines(d: GraphDiff, top_rows: int) -> list[str]:
    rows = [r for r in d.rows if len({s.status if s else None for s in r.states}) > 1]
    labels = [a.label for a in d.analyses]
    lines = [f"N-way: {len(rows)} node(s) whose status differs between analyses"]
    if not rows:
        return lines
    name_w = min(32, max(len(_row_name(r)) for r in rows[:top_rows]))
    mod_w = min(28, max(len(r.module or ROOT_MODULE) for r in rows[:top_rows]))
    col_w = max(8, *(len(x) for x in labels))
    lines.append("  " + f"{'module':<{mod_w}} {'node':<{name_w}} "
                 + " ".join(f"{x:<{col_w}}" for x in labels))
    for r in rows[:top_rows]:
        cells = [(_SHORT.get(s.status, s.status) if s else "—") for s in r.states]
        lines.append("  " + f"{(r.module or ROOT_MODULE)[:mod_w]:<{mod_w}} "
                     f"{_row_name(r)[:name_w]:<{name_w}} "
                     + " ".join(f"{x:<{col_w}}" for x in cells).rstrip())
    if len(rows) > top_rows:
        lines.append(f"  … {len(rows) - top_rows} more: see the JSON (-o) or the HTML report")
    return lines


def _row_name(r: NodeRow) -> str:
    return next(s.name for s in r.states if s is not None)
