"""`ckpt export --model-explorer ANALYSIS.json -o graph.json`: an analysis for Model Explorer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import CkptError
from .common import EXIT_BAD_INPUT, EXIT_OK, write_json


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export an analysis to another tool's format (Google's Model Explorer)",
        description=(
            "Write the forward, backward and joint graphs of an analysis JSON file (from "
            "`ckpt analyze -o`) in Model Explorer's JSON graph format: module paths as nested "
            "layers, each node's op, shape, dtype, bytes, policy, status and why as attributes, "
            "nodes tinted by status. Beside it go two node-data overlays, "
            "GRAPH.status.nodedata.json (colour by status) and GRAPH.bytes.nodedata.json "
            "(colour by bytes). Open them with `model-explorer GRAPH.hfgraph` (Model Explorer's "
            "JSON graph loader reads this format; copy or link graph.json to that name) or load "
            "the .json in its web UI, then add the overlays from its node-data panel. Exit 0 on "
            "success, 2 on an unreadable or invalid input."
        ),
    )
    p.add_argument("analysis", metavar="ANALYSIS.json")
    p.add_argument("--model-explorer", action="store_true", required=True,
                   help="export to Model Explorer's JSON graph format (the one format for now)")
    p.add_argument("-o", "--output", metavar="GRAPH.json", required=True,
                   help="where to write the graph collection")
    p.set_defaults(func=run)


def overlay_path(output: str, name: str) -> str:
    """GRAPH.json → GRAPH.<name>.nodedata.json"""
    stem = output[:-5] if output.endswith(".json") else output
    return f"{stem}.{name}.nodedata.json"


def run(args: argparse.Namespace) -> int:
    from ..diff.inputs import as_document
    from ..ir import Analysis
    from ..model_explorer import to_model_explorer

    try:
        with open(args.analysis, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        return _fail(f"{args.analysis}: cannot read: {e.strerror or e}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return _fail(f"{args.analysis}: not JSON ({e})")
    if not isinstance(raw, dict):
        return _fail(f"{args.analysis}: expected an analysis object, found a JSON "
                     f"{type(raw).__name__}")
    try:
        analysis = Analysis.from_dict(as_document(raw, args.analysis))
    except CkptError as e:
        return _fail(e.message.splitlines()[0])
    except (KeyError, TypeError, ValueError) as e:
        return _fail(f"{args.analysis}: not an analysis document ({type(e).__name__}: {e})")
    out = to_model_explorer(analysis)
    write_json(args.output, out.graphs)
    written = [args.output]
    for name, data in out.node_data.items():
        path = overlay_path(args.output, name)
        write_json(path, data)
        written.append(path)
    nodes = sum(len(g["nodes"]) for g in out.graphs["graphs"])
    print(f"wrote {', '.join(written)} ({len(out.graphs['graphs'])} graphs, {nodes} nodes)")
    print(f"open: cp {args.output} {os.path.splitext(args.output)[0]}.hfgraph && "
          f"model-explorer {os.path.splitext(args.output)[0]}.hfgraph")
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"ckpt export: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
