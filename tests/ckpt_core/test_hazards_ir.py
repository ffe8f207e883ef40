"""The `Hazard` record: JSON round trip, schema, and the check that named nodes exist."""

from __future__ import annotations

import pytest

from ckpt_core import AnalysisError, Hazard, NodeRef
from ckpt_core.ir import HAZARD_KINDS, Analysis, Graph, Node, Region, RegionSummary
from ckpt_core.validate import validate_analysis


def _analysis(*hazards: Hazard) -> Analysis:
    fwd = Graph("forward", (Node("x", "placeholder", "x", status="input"),
                            Node("output", "output", "output", inputs=("x",), status="output")))
    return Analysis(
        ckptscope_version="0", torch_version="2.13.0", device="cpu",
        settings={"decompositions": "inductor", "partitioner": "min_cut", "memory_budget": 1.0,
                  "budget_solver": "dp", "fullgraph": False, "device": "cpu"},
        snippet_sha256="0" * 64, snippet_name="s.py", snippet_source="",
        regions=(Region(index=0, graphs={"forward": fwd}, saved=(), num_user_outputs=1,
                        summary=RegionSummary({}, 0, 0, 0, 0, 0, 0, 0)),),
        graph_breaks=(), summary={"region_count": 1, "graph_break_count": 0, "saved_count": 0,
                                  "recomputed_count": 0, "saved_activation_count": 0,
                                  "saved_activation_bytes": 0, "recompute_flops": 0,
                                  "op_counts": {}},
        timings_s={}, hazards=hazards,
    )


def test_round_trip_and_schema() -> None:
    hz = Hazard("rng_recomputed", "dropout is replayed", (NodeRef(0, "forward", "x"),),
                severity="info", details="more")
    doc = _analysis(hz).to_dict()
    assert doc["hazards"] == [hz.to_dict()]
    validate_analysis(doc)
    assert Analysis.from_dict(doc).hazards == (hz,)


def test_unknown_node_is_rejected() -> None:
    doc = _analysis(Hazard("rng_recomputed", "m", (NodeRef(0, "forward", "nope"),))).to_dict()
    with pytest.raises(AnalysisError, match="nope"):
        validate_analysis(doc)


def test_with_hazards_drops_duplicates() -> None:
    hz = Hazard("recompute_working_set", "m")
    a = _analysis().with_hazards(hz, hz)
    assert a.hazards == (hz,)
    assert a.with_hazards(hz).hazards == (hz,)


def test_every_kind_is_in_the_schema() -> None:
    from ckpt_core.validate import analysis_schema

    assert tuple(analysis_schema()["$defs"]["hazard"]["properties"]["kind"]["enum"]) == HAZARD_KINDS
