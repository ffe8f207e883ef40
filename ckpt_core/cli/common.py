"""Arguments and error handling shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import CkptError, SettingsError
from ..settings import BAN_RECOMPUTE_FLAGS, DYNAMO_OPTIONS, HELP, Settings

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_settings_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis settings (defaults: what plain torch.compile does)")
    g.add_argument("--decompositions", choices=("inductor", "none"), default="inductor",
                   help=HELP["decompositions"])
    g.add_argument("--partitioner", choices=("min_cut", "default"), default="min_cut",
                   help=HELP["partitioner"])
    g.add_argument("--memory-budget", type=float, default=1.0, metavar="F",
                   help=HELP["memory_budget"])
    g.add_argument("--budget-solver", choices=("dp", "greedy", "ilp"), default="dp",
                   help=HELP["budget_solver"])
    for flag in BAN_RECOMPUTE_FLAGS:
        g.add_argument("--" + flag.replace("_", "-"), action=argparse.BooleanOptionalAction,
                       default=True, help=HELP[flag])
    g.add_argument("--fullgraph", action="store_true", help=HELP["fullgraph"])
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help=HELP["device"])
    g.add_argument("--dynamo-config", action="append", default=[], metavar="KEY=VALUE",
                   help=HELP["dynamo_config"] + " Repeatable; VALUE is JSON or a bare word "
                   "(true, 8, logging.Logger.info; several functions: a JSON list).")
    g.add_argument("--disable-functionalization", action="store_true",
                   help=HELP["disable_functionalization"])
    g.add_argument("--cost-profile", choices=("auto", "h100", "h200", "a100", "l4", "cpu"),
                   default="auto", help=HELP["cost_profile"])
    g.add_argument("--execution", choices=("real", "fake"), default="real",
                   help=HELP["execution"])
    g.add_argument("--torch", metavar="VERSION|PYTHON",
                   help="run under another installed torch: a version (e.g. 2.15.0; "
                   "`ckpt torch-versions` lists them) or a virtualenv's bin/python. Default: "
                   "this interpreter's torch. Diff two versions' documents with `ckpt diff`.")


def parse_dynamo_config(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs from --dynamo-config; a VALUE that is not JSON is a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"--dynamo-config: expected KEY=VALUE, got {item!r}")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if DYNAMO_OPTIONS.get(key, ("",))[0] == "callables" and isinstance(value, str):
            value = [value]
        out[key.replace("-", "_")] = value
    return out


def missing_snippet(path: str) -> int | None:
    """The exit code and one-line message for a snippet path that is not a file; else None."""
    if os.path.isfile(path):
        return None
    print(f"ckpt: no such file: {path}", file=sys.stderr)
    return EXIT_BAD_INPUT


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        decompositions=args.decompositions,
        partitioner=args.partitioner,
        memory_budget=args.memory_budget,
        budget_solver=args.budget_solver,
        fullgraph=args.fullgraph,
        device=args.device,
        dynamo_config=parse_dynamo_config(args.dynamo_config),
        disable_functionalization=args.disable_functionalization,
        cost_profile=args.cost_profile,
        execution=args.execution,
        **{flag: getattr(args, flag) for flag in BAN_RECOMPUTE_FLAGS},
    )


def write_json(path: str, doc: dict[str, Any]) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def report_error(e: CkptError, out: str | None, verbose: bool = False) -> int:
    """One line on stderr (the whole message and its details with --verbose); the full document
    with -o."""
    lines = e.message.strip().splitlines() or [""]
    where = f" (snippet line {e.line})" if e.line else ""
    text = e.message.strip() if verbose else lines[0]
    extra = len(lines) - 1 + (1 if e.details else 0)
    more = "" if verbose or not extra else f" [+{extra} more: --verbose or -o]"
    print(f"ckpt: {type(e).__name__}{where}: {text}{more}", file=sys.stderr)
    if verbose and e.details:
        print(f"details: {e.details}", file=sys.stderr)
    if out:
        write_json(out, {"error": e.to_dict()})
    return EXIT_BAD_INPUT
