"""The readable text summary `ckpt analyze` prints (pure: analysis dict in, text out)."""

from __future__ import annotations

from typing import Any

from .units import fmt_bytes, fmt_flops, fmt_pct, fmt_seconds


def text_summary(doc: dict[str, Any], *, top: int = 5) -> str:
    s = doc["summary"]
    settings = doc["settings"]
    from .settings import Settings

    defaults = Settings().to_dict()
    changed = {k: v for k, v in settings.items()
                if k not in ("device", "execution") and defaults.get(k) != v}
    out = [
        f"{doc['snippet_name']}  ·  torch {doc['torch_version']}  ·  device {doc['device']}"
        + (f"  ·  FAKE TENSORS: shapes and dtypes only, {doc['device']} op choices, nothing "
           "executed" if settings.get("execution") == "fake" else ""),
        "settings: " + (", ".join(f"{k}={v}" for k, v in changed.items())
                        or "defaults (what plain torch.compile does)"),
        f"{s['region_count']} compiled region(s), {s['graph_break_count']} graph break(s); "
        f"saved {s['saved_count']} value(s), {s['saved_activation_count']} activation(s) = "
        f"{fmt_bytes(s['saved_activation_bytes'])}; recomputed {s['recomputed_count']} op(s) = "
        f"{fmt_flops(s['recompute_flops'])} of {fmt_flops(s['forward_flops'])} forward",
    ]
    if s.get("handover_saved_bytes"):
        out.append(f"  of which {fmt_bytes(s['handover_saved_bytes'])} handed from one region "
                   "to a later one that keeps it for backward (see the saved ledger)")
    out.extend(cost_lines(doc))
    out.extend(hazard_lines(doc))
    for brk in doc["graph_breaks"]:
        where = f"line {brk['line']}: {brk['code']}" if brk.get("line") else "unknown line"
        what = brk.get("explanation") or graph_break_headline(brk["reason"])
        out.append(f"  graph break at {where} — {what}")
        loc = brk.get("location")
        if loc and (loc.get("file"), loc.get("line")) != (doc.get("snippet_name"), brk.get("line")):
            out.append(f"    dynamo broke the graph in {loc['file']}:{loc.get('line')}")
        if brk.get("hint"):
            out.append(f"    hint: {brk['hint']}")
    for region in doc["regions"]:
        out.append("")
        out.extend(_region_lines(region, top, doc.get("handovers") or []))
    return "\n".join(out)


def hazard_lines(doc: dict[str, Any]) -> list[str]:
    """One line per hazard, errors first, with the nodes it concerns and torch's own words."""
    order = {"error": 0, "warning": 1, "info": 2}
    hazards = sorted(doc.get("hazards") or [], key=lambda h: order.get(h.get("severity"), 3))
    if not hazards:
        return []
    lines = [f"hazards ({len(hazards)}):"]
    for hz in hazards:
        names = [n["name"] for n in hz.get("nodes", ())]
        more = f" (+{len(names) - 6})" if len(names) > 6 else ""
        nodes = f" [nodes: {', '.join(names[:6])}{more}]" if names else ""
        lines.append(f"  {hz['severity']}: {hz['kind']}: {hz['message']}{nodes}")
        if hz.get("details"):
            lines.append(f"    torch said: {hz['details']}")
    return lines


def cost_lines(doc: dict[str, Any]) -> list[str]:
    """The cost model's headline: estimated recompute time on the chosen profile, the other
    profiles, and torch's own knapsack estimate where a budget is set."""
    cost = doc.get("cost")
    if not isinstance(cost, dict):
        return []
    rc, fw = cost["recompute"], cost["forward"]
    profile = cost["profile"]
    lines = [
        f"recompute cost ({profile['label']}, {profile['source']}): "
        f"{fmt_flops(rc['flops'])}, {fmt_bytes(rc['bytes_moved'])} moved, est. "
        f"{fmt_seconds(rc['time_s'])} = {fmt_pct(cost['recompute_time_fraction'])} of the "
        f"forward's {fmt_seconds(fw['time_s'])}",
        "  by profile: " + ", ".join(
            f"{r['profile']} {fmt_seconds(r['recompute_time_s'])}" for r in cost["by_profile"]),
    ]
    if isinstance(m := cost.get("measured"), dict):
        top_ops = ", ".join(f"{op} {fmt_seconds(t)}" for op, t in list(m["by_op"].items())[:3])
        lines.append(f"  measured on {m['device']} ({m['method']}): "
                     f"{fmt_seconds(m['recompute_time_s'])} for {m['count']} recompute op(s) vs "
                     f"est. {fmt_seconds(rc['time_s'])} ({profile['label']})"
                     + (f"; most: {top_ops}" if top_ops else ""))
    for k in cost.get("torch_knapsack", ()):
        if k.get("expected_runtime") is None:
            lines.append(f"  torch's knapsack (region {k['region']}): {k.get('note', 'none')}")
            continue
        unit = f" {k['unit']}" if k.get("unit") else ""
        lines.append(f"  torch's knapsack estimate (region {k['region']}, estimator "
                     f"{k['estimator']}): {k['expected_runtime']:g}{unit} of recompute")
    return lines


def graph_break_headline(reason: str) -> str:
    """The most telling line of dynamo's explanation (its `Explanation:` line when present)."""
    lines = [ln.strip() for ln in reason.strip().splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Explanation:"):
            return ln.removeprefix("Explanation:").strip()
    return lines[1] if len(lines) > 1 and lines[0].startswith("Encountered") else (
        lines[0] if lines else "?")


def _region_lines(region: dict[str, Any], top: int,
                  handovers: list[dict[str, Any]]) -> list[str]:
    rs = region["summary"]
    graphs = region["graphs"]
    counts = ", ".join(
        f"{k} {sum(rs['op_counts'].get(k, {}).values())} ops" for k in graphs
    )
    lines = [f"region {region['index']}: {counts}"]
    if "backward" not in graphs:
        lines.append("  inference only (nothing requires grad here): no backward graph")
        return lines
    lines.append(
        f"  saved {rs['saved_count']} ({rs['saved_activation_count']} activation storages, "
        f"{fmt_bytes(rs['saved_activation_bytes'])}); recomputed {rs['recomputed_count']} op(s), "
        f"{fmt_flops(rs['recompute_flops'])}; forward-only {rs['forward_only_count']}"
    )
    fw = {n["name"]: n for n in graphs["forward"]["nodes"]}
    activations = [s for s in region["saved"] if s["kind"] in ("activation", "rng_state")]
    activations.sort(key=lambda s: (-s["bytes"], s["forward_node"]))
    if activations:
        lines.append(f"  largest saved tensors (of {len(activations)}):")
    for s in activations[:top]:
        node = fw.get(s["forward_node"], {})
        shape = "×".join(map(str, s["shape"])) if s.get("shape") else "-"
        where = f"line {node['source']['line']}" if node.get("source") else ""
        module = node.get("module") or "(root)"
        lines.append(
            f"    {s['forward_node']:<24} {fmt_bytes(s['bytes']):>10}  {s['dtype'] or '':<9}"
            f" {shape:<16} {node.get('target', ''):<28} {module} {where}".rstrip()
        )
    handed = {h["consumer"]["name"]: h for h in handovers
              if h["consumer"]["region"] == region["index"]}
    for s in region["saved"]:
        h = handed.get(s["forward_node"])
        if h is not None:
            lines.append(f"  kept for backward from region {h['producer']['region']}: "
                         f"{s['forward_node']} = its {h['producer']['name']} "
                         f"({fmt_bytes(h['bytes'])}, an activation of the program)")
    others = [s for s in region["saved"] if s["kind"] not in ("activation", "rng_state")
              and s["forward_node"] not in handed]
    if others:
        kinds: dict[str, int] = {}
        for s in others:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
        lines.append("  also saved at no extra cost: " + ", ".join(
            f"{n} {k}(s)" for k, n in sorted(kinds.items())))
    recomputed = [n for n in graphs["backward"]["nodes"] if n["status"] == "recompute"]
    if recomputed:
        names = ", ".join(n["name"] for n in recomputed[:12])
        more = f" … (+{len(recomputed) - 12})" if len(recomputed) > 12 else ""
        lines.append(f"  recomputed in backward: {names}{more}")
    return lines
