"""`ckpt sweep SNIPPET.py --budgets 1,0.5,0`: one analysis per memory budget, from one trace."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from ..errors import CkptError
from ..units import fmt_bytes, fmt_flops, fmt_seconds
from .common import (
    EXIT_OK,
    add_settings_arguments,
    missing_snippet,
    report_error,
    settings_from_args,
    write_json,
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sweep",
        help="analyse a snippet under several activation memory budgets",
        description=(
            "Compile SNIPPET.py once, then re-run torch's partitioner on the captured joint "
            "graph for each memory budget: saved activation bytes, recompute FLOPs and peak "
            "memory per budget, each with a complete analysis. Budgets whose peak is higher "
            "than at a larger budget are flagged. Exit 0 on success, 2 on a bad snippet."
        ),
    )
    p.add_argument("snippet", metavar="SNIPPET.py")
    p.add_argument("--budgets", default="1,0.8,0.6,0.4,0.2,0", metavar="B1,B2,…",
                   help="comma-separated budgets in [0, 1] (default: %(default)s)")
    add_settings_arguments(p)
    p.add_argument("-o", "--output", metavar="SWEEP.json", help="write the sweep JSON here")
    p.add_argument("--html", metavar="REPORT.html",
                   help="write a report of the first budget's analysis with the sweep's pareto")
    p.add_argument("-v", "--verbose", action="store_true", help="print errors in full")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sweep import parse_budgets, sweep

    if (missing := missing_snippet(args.snippet)) is not None:
        return missing
    try:
        budgets = parse_budgets(args.budgets)
        # whatever the snippet prints goes to stderr, keeping stdout for the table
        with contextlib.redirect_stdout(sys.stderr):
            result = sweep(args.snippet, budgets, settings_from_args(args))
    except CkptError as e:
        return report_error(e, args.output, args.verbose)
    profile = result.points[0].analysis.summary.get("cost_profile", "") if result.points else ""
    print(f"{'budget':>7}  {'saved':>11}  {'recompute':>13}  {'est. time':>10}  {'peak':>11}")
    for p in result.points:
        flag = "  ← peak not monotonic" if p.non_monotonic else ""
        if any(h.kind == "torch_compile_fails" for h in p.analysis.hazards):
            flag += "  ← torch.compile fails with this plan (see its hazards)"
        print(f"{p.budget:>7g}  {fmt_bytes(p.saved_activation_bytes):>11}  "
              f"{fmt_flops(p.recompute_flops):>13}  {fmt_seconds(p.recompute_time_s):>10}  "
              f"{fmt_bytes(p.peak_bytes):>11}{flag}")
    print(f"(estimated recompute time on the {profile} profile: roofline of the cost model)")
    print(f"\n{len(result.points)} budget(s) in {result.timings_s.get('total_s', 0.0):.1f} s "
          f"(one trace: {result.timings_s.get('trace_s', 0.0):.1f} s)")
    if args.output:
        write_json(args.output, result.to_dict())
        print(f"wrote {args.output}")
    if args.html:
        from ..html_report import html_report

        with open(args.html, "w", encoding="utf-8") as f:
            f.write(html_report(result.points[0].analysis, sweep=result))
        print(f"wrote {args.html}")
    return EXIT_OK
