"""`ckpt analyze SNIPPET.py`: capture, classify, print a summary, write the JSON."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from ..errors import CkptError
from ..report import text_summary
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
        "analyze",
        help="compile a snippet and show what is saved, recomputed and forward-only",
        description=(
            "Compile SNIPPET.py (defining `model`, `example_inputs` and optionally "
            "`loss(output)`) with torch.compile, capture the joint/forward/backward graphs and "
            "their checkpoint policies, and classify every forward node. Exit 0 on success, 2 "
            "on a bad snippet or compile error."
        ),
    )
    p.add_argument("snippet", metavar="SNIPPET.py")
    add_settings_arguments(p)
    p.add_argument("-o", "--output", metavar="OUT.json",
                   help="write the analysis JSON here (an {\"error\": …} document on failure)")
    p.add_argument("--top", type=int, default=5, help="largest saved tensors to list per region")
    p.add_argument("--html", metavar="REPORT.html",
                   help="also write a self-contained HTML report (opens offline)")
    p.add_argument("--measure", action="store_true",
                   help="also run one forward+backward of every region on real tensors: the "
                   "measured memory peak and the measured time of the backward's recompute "
                   "nodes (CUDA events on a GPU, perf_counter on the CPU) beside the estimates")
    p.add_argument("-v", "--verbose", action="store_true", help="print errors in full")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import analyze_file, analyze_measured

    if (missing := missing_snippet(args.snippet)) is not None:
        return missing
    try:
        settings = settings_from_args(args)
        # whatever the snippet prints goes to stderr, keeping stdout for the summary
        with contextlib.redirect_stdout(sys.stderr):
            if args.measure:
                analysis = analyze_measured(args.snippet, settings)
            else:
                analysis = analyze_file(args.snippet, settings)
    except CkptError as e:
        return report_error(e, args.output, args.verbose)
    if not args.measure:
        from ..memory import with_memory

        analysis = with_memory(analysis)
    doc = analysis.to_dict()
    print(text_summary(doc, top=args.top))
    if args.output:
        write_json(args.output, doc)
        print(f"\nwrote {args.output}")
    if args.html:
        from ..html_report import html_report

        with open(args.html, "w", encoding="utf-8") as f:
            f.write(html_report(analysis))
        print(f"wrote {args.html}")
    return EXIT_OK
