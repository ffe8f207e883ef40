"""Checks on an analysis document, in the spirit of `torch.fx.Graph.lint()`.

`validate_analysis(doc)` checks the JSON Schema (`schema/analysis.schema.json`) and then the
invariants the schema cannot express: unique node names, edges to existing earlier nodes
(topological order), saved set = forward extra outputs = backward non-tangent inputs, and
hazards that name existing nodes.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from .errors import AnalysisError

SCHEMA_FILE = "analysis.schema.json"


@functools.cache
def analysis_schema() -> dict[str, Any]:
    text = resources.files("ckpt_core").joinpath("schema", SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@functools.cache
def _fast_validator() -> Any:
    """The schema compiled to Python by fastjsonschema: ~50x faster than jsonschema on a large
    document, which matters because every document a sandbox returns is validated. It knows
    draft 7, which our schema uses but for `dependentRequired` (checked in the invariants)."""
    import fastjsonschema

    return fastjsonschema.compile(analysis_schema())


def prepare_validator() -> None:
    """Compile the schema validator now (tens of ms) so the first document does not pay it."""
    _fast_validator()


def validate_schema(doc: dict[str, Any]) -> None:
    import fastjsonschema

    try:
        _fast_validator()(doc)
        return
    except fastjsonschema.JsonSchemaException:
        pass  # jsonschema below names the first problem precisely

    import jsonschema  # only for a document that fails: importing it costs ~30 ms

    validator = jsonschema.Draft202012Validator(analysis_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise AnalysisError(
            f"analysis does not match schema v{doc.get('schema_version')}: at {where}: "
            f"{first.message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        )


def validate_invariants(doc: dict[str, Any]) -> None:
    for region in doc["regions"]:
        idx = region["index"]
        if ("joint" in region["graphs"]) != ("backward" in region["graphs"]):
            raise AnalysisError(f"region {idx}: a joint graph comes with a backward graph")
        for kind, graph in region["graphs"].items():
            seen: set[str] = set()
            for node in graph["nodes"]:
                name = node["name"]
                if name in seen:
                    raise AnalysisError(f"region {idx} {kind}: duplicate node name {name!r}")
                for inp in node["inputs"]:
                    if inp not in seen:
                        raise AnalysisError(
                            f"region {idx} {kind}: {name} reads {inp!r}, which is not an "
                            "earlier node (edges must point backwards in topological order)"
                        )
                if node.get("view_of") and node["view_of"] not in seen:
                    raise AnalysisError(f"region {idx} {kind}: {name} views unknown node")
                seen.add(name)
        if "backward" not in region["graphs"]:
            if region["saved"]:
                raise AnalysisError(f"region {idx}: saved values without a backward graph")
            continue
        fw_nodes = region["graphs"]["forward"]["nodes"]
        bw_nodes = region["graphs"]["backward"]["nodes"]
        fw_extra = fw_nodes[-1]["inputs"][region["num_user_outputs"]:]
        bw_saved = [
            n["name"] for n in bw_nodes if n["op"] == "placeholder" and n["status"] == "saved"
        ]
        saved_fw = [s["forward_node"] for s in region["saved"]]
        saved_bw = [s["backward_node"] for s in region["saved"]]
        if saved_fw != list(fw_extra):
            raise AnalysisError(
                f"region {idx}: saved values {saved_fw} differ from the forward graph's extra "
                f"outputs {list(fw_extra)}"
            )
        if saved_bw != bw_saved:
            raise AnalysisError(
                f"region {idx}: saved values {saved_bw} differ from the backward graph's "
                f"non-tangent inputs {bw_saved}"
            )


def validate_hazards(doc: dict[str, Any]) -> None:
    """Every node a hazard names exists in the graph it names."""
    regions = {r["index"]: r for r in doc["regions"]}
    for hazard in doc.get("hazards", ()):
        for ref in hazard["nodes"]:
            graph = regions.get(ref["region"], {}).get("graphs", {}).get(ref["graph"])
            if graph is None or not any(n["name"] == ref["name"] for n in graph["nodes"]):
                raise AnalysisError(
                    f"hazard {hazard['kind']}: names {ref['name']!r} in region {ref['region']} "
                    f"{ref['graph']}, which does not exist"
                )


def validate_analysis(doc: dict[str, Any]) -> None:
    """Raise `AnalysisError` naming the first problem; return None when the document is sound."""
    validate_schema(doc)
    validate_invariants(doc)
    validate_hazards(doc)
