"""Diff cost on the 12-layer GPT example: default settings against `memory_budget=0.5`, and
the same model with the attention ops dropped from its SAC save list (`--policy-change`).

Target: `ckpt_core.diff` of the two analyses (thousands of nodes each) in ≤ 1 s. Also times the
JSON form and the text and HTML reports, and prints how the structural matcher paired the nodes
(matched / added / removed / moved, and by which rule). Prints the median and its ratio to the
target.

    .venv/bin/python bench/bench_diff.py [--repeat 5] [--policy-change] [A.json B.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import timed  # noqa: E402

TARGET_S = 1.0




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analyses", nargs="*", metavar="ANALYSIS.json",
                        help="two analysis files to diff instead of compiling the example")
    parser.add_argument("--snippet", default=str(REPO / "examples" / "gpt_sac.py"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--policy-change", action="store_true",
                        help="diff the snippet against itself with attention dropped from SAVE")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import ckpt_core
    from ckpt_core.diff.html import html_report
    from ckpt_core.diff.report import text_report

    if args.analyses:
        docs = [json.loads(Path(p).read_text()) for p in args.analyses]
    elif args.policy_change:
        text = Path(args.snippet).read_text()
        edited = "\n".join(line for line in text.splitlines()
                           if "_scaled_dot_product" not in line) + "\n"
        docs = [ckpt_core.analyze_source(t, name=Path(args.snippet).name).to_dict()
                for t in (text, edited)]
    else:
        path = Path(args.snippet)
        docs = [ckpt_core.analyze_file(path, ckpt_core.Settings(memory_budget=budget)).to_dict()
                for budget in (1.0, 0.5)]
    node_counts = [sum(len(g["nodes"]) for r in d["regions"] for g in r["graphs"].values())
                   for d in docs]

    diff_s = timed(lambda: ckpt_core.diff(docs), args.repeat)
    result = ckpt_core.diff(docs)
    json_s = timed(lambda: json.dumps(result.to_dict()), args.repeat)
    text_s = timed(lambda: text_report(result), args.repeat)
    html_s = timed(lambda: html_report(result), args.repeat)
    summary = result.comparisons[0].summary
    print(f"analyses: {docs[0]['snippet_name']}, {node_counts} nodes (all graphs), "
          f"{len(result.rows)} matched forward rows; "
          f"{summary.saved_to_recomputed.count} saved→recomputed, "
          f"{sum(summary.transitions.values())} status changes")
    print(f"matched {summary.matched_count}, added {summary.added_count}, removed "
          f"{summary.removed_count}, moved {sum(summary.transitions.values())}; matched by "
          f"{dict(sorted(result.comparisons[0].matched_by.items()))}")
    for name, times in (("ckpt_core.diff", diff_s), ("to_dict + json", json_s),
                        ("text report", text_s), ("html report", html_s)):
        print(f"{name:<16} median {statistics.median(times):7.4f} s  "
              f"{[round(t, 4) for t in times]}")
    median = statistics.median(diff_s)
    print(f"diff / target = {median / TARGET_S:.3f}   (target <= 1.0, i.e. <= {TARGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
