"""`ckpt whatif SNIPPET.py --save SEL …`: a policy change, re-partitioned and exported as code."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import CkptError, OverrideError
from ..units import fmt_bytes, fmt_flops
from .common import (
    EXIT_OK,
    add_settings_arguments,
    missing_snippet,
    report_error,
    settings_from_args,
    write_json,
)

#: flag → the action it asks for
FLAGS = {
    "--save": "MUST_SAVE",
    "--prefer-save": "PREFER_SAVE",
    "--recompute": "MUST_RECOMPUTE",
    "--prefer-recompute": "PREFER_RECOMPUTE",
    "--no-checkpoint": "NO_CHECKPOINT",
}
SELECTORS_HELP = (
    "SEL is node:NAME (a joint-graph node, e.g. node:addmm_3), op:OP (e.g. op:aten.addmm.default "
    "or op:aten.mm.*), module:PATH (globs, e.g. module:blocks.*.mlp) or region:N (a checkpoint "
    "region). Overrides apply in the order given; a later one wins on the ops both select."
)


class _Override(argparse.Action):
    """Collect (selector, action) pairs from every override flag, in command-line order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        pairs = list(getattr(namespace, "overrides", None) or [])
        pairs.append((str(values), FLAGS[str(option_string)]))
        namespace.overrides = pairs


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "whatif",
        help="change what is saved or recomputed, re-run only the partitioner, export the code",
        description=(
            "Trace SNIPPET.py once, set the checkpoint tags the overrides ask for on the captured "
            "joint graph (what a policy function would have produced), and re-run only torch's "
            "partitioner. Prints what moved against the original plan, the memory and "
            "recompute deltas, new hazards, and where a change had to be adjusted to what a "
            "real policy can express. SNIPPET.py may also be an analysis JSON written by "
            "`ckpt analyze -o`. " + SELECTORS_HELP
            + " Exit 0 on success, 2 on a bad snippet or a bad override."
        ),
    )
    p.add_argument("snippet", metavar="SNIPPET.py")
    g = p.add_argument_group("overrides (repeatable)")
    for flag, action in FLAGS.items():
        what = ("remove the checkpoint from" if action == "NO_CHECKPOINT"
                else f"tag {action} on")
        g.add_argument(flag, action=_Override, metavar="SEL", help=f"{what} the ops SEL selects")
    add_settings_arguments(p)
    p.add_argument("-o", "--output", metavar="PLAN.json",
                   help="write the what-if analysis (a complete analysis with its overrides)")
    p.add_argument("--export-policy", metavar="POLICY.py",
                   help="write the policy_fn code (for create_selective_checkpoint_contexts)")
    p.add_argument("--write-snippet", metavar="NEW.py",
                   help="write SNIPPET.py with the policy applied; `ckpt analyze NEW.py` "
                        "reproduces the plan")
    p.add_argument("-v", "--verbose", action="store_true", help="print errors in full")
    p.set_defaults(func=run, overrides=[])


def run(args: argparse.Namespace) -> int:
    from .. import whatif

    if (missing := missing_snippet(args.snippet)) is not None:
        return missing
    try:
        if not args.overrides:
            raise OverrideError("give at least one override: " + ", ".join(FLAGS) + " SEL")
        base: Any = args.snippet
        if args.snippet.endswith(".json"):
            with open(args.snippet, encoding="utf-8") as f:
                base = json.load(f)
            if not isinstance(base, dict) or "regions" not in base:
                raise OverrideError(f"{args.snippet} is not an analysis document")
        settings = settings_from_args(args)
        if isinstance(base, dict) and settings.memory_budget == 1.0:
            settings = settings.replace(memory_budget=base["settings"].get("memory_budget", 1.0))
        with contextlib.redirect_stdout(sys.stderr):
            result = whatif(base, args.overrides, settings)
    except CkptError as e:
        return report_error(e, args.output, args.verbose)
    from ..diff.report import text_report

    print(text_report(result.diff))
    print()
    d = result.deltas
    print(f"what-if: {result.plan.changed} op tag(s) changed "
          f"({', '.join(f'{s}: {n} op(s)' for s, n in result.plan.matched.items())})")
    print(f"  saved activations  {fmt_bytes(result.base.summary['saved_activation_bytes'])} → "
          f"{fmt_bytes(result.analysis.summary['saved_activation_bytes'])} "
          f"({_signed(d['saved_activation_bytes'], fmt_bytes)})")
    print(f"  peak memory        {_signed(d['peak_bytes'], fmt_bytes)}")
    print(f"  recompute          {_signed(d['recompute_flops'], fmt_flops)}, "
          f"{int(d['recomputed_count']):+d} recomputed op(s), estimated "
          f"{d['recompute_time_s'] * 1e3:+.3f} ms ({result.analysis.summary.get('cost_profile')})")
    for note in result.notes:
        print(f"  note: {note}")
    for h in result.new_hazards:
        print(f"  new hazard ({h.severity}, {h.kind}): {h.message}")
    if args.output:
        write_json(args.output, result.analysis.to_dict())
        print(f"wrote {args.output}")
    if args.export_policy:
        with open(args.export_policy, "w", encoding="utf-8") as f:
            f.write(result.policy.code)
        print(f"wrote {args.export_policy}")
    if args.write_snippet:
        with open(args.write_snippet, "w", encoding="utf-8") as f:
            f.write(result.snippet())
        print(f"wrote {args.write_snippet}")
    return EXIT_OK


def _signed(value: float, fmt: Any) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "±") + str(fmt(abs(value)))
