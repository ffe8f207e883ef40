"""The program-level records of the analysis IR: graph breaks, the values one region hands to
the next, and hazards with the nodes they name. Part of `ckpt_core.ir` (which re-exports them);
apart only to keep each module to one concept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

GraphKind = Literal["joint", "forward", "backward"]
GRAPH_KINDS: tuple[GraphKind, ...] = ("joint", "forward", "backward")


@dataclass(frozen=True)
class GraphBreak:
    """A graph break dynamo reported.

    - `reason`: dynamo's whole explanation, as torch wrote it;
    - `line` / `code`: the snippet line that led there (the innermost snippet frame);
    - `location_file` / `location_line`: where dynamo broke the graph, library code included
      (a path under site-packages is given relative to it); JSON: `location: {file, line}`;
    - `explanation` / `hint`: dynamo's own `Explanation:` and `Hint:` lines.
    """

    reason: str
    line: int | None = None
    code: str | None = None
    location_file: str | None = None
    location_line: int | None = None
    explanation: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        location = ({"file": self.location_file, "line": self.location_line}
                    if self.location_file else None)
        return {"reason": self.reason, "line": self.line, "code": self.code,
                "location": location, "explanation": self.explanation, "hint": self.hint}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphBreak:
        location = d.get("location") or {}
        return cls(reason=d["reason"], line=d.get("line"), code=d.get("code"),
                   location_file=location.get("file"), location_line=location.get("line"),
                   explanation=d.get("explanation"), hint=d.get("hint"))


@dataclass(frozen=True)
class Handover:
    """A value one compiled region hands to a later one (a graph break between them).

    `producer` is the earlier region's forward node returning it (a user output), `consumer`
    the later region's forward placeholder receiving it: the same storage, found by tensor
    identity at run time. `bytes` is the consumer's size. When the later region saves the
    consumer for backward, the value is an activation of the program, kept from the earlier
    region's forward until the later region's backward.
    """

    producer: NodeRef
    consumer: NodeRef
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"producer": self.producer.to_dict(), "consumer": self.consumer.to_dict(),
                "bytes": self.bytes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Handover:
        return cls(producer=NodeRef.from_dict(d["producer"]),
                   consumer=NodeRef.from_dict(d["consumer"]), bytes=int(d["bytes"]))


HazardKind = Literal[
    "torch_compile_fails",
    "rng_recomputed",
    "checkpoint_overridden_by_budget",
    "graph_break_in_checkpoint",
    "saved_view_keeps_large_base",
    "recompute_working_set",
    "unsupported_torch_version",
]
#: Every hazard kind, in the order reports list them.
HAZARD_KINDS: tuple[HazardKind, ...] = get_args(HazardKind)


@dataclass(frozen=True)
class NodeRef:
    """A node named across the document: its `region` index, `graph` kind and FX `name`."""

    region: int
    graph: GraphKind
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "graph": self.graph, "name": self.name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NodeRef:
        return cls(region=int(d["region"]), graph=d["graph"], name=str(d["name"]))


@dataclass(frozen=True)
class Hazard:
    """Something about this plan a user must know before acting on it.

    - `kind`: one of `HAZARD_KINDS` (stable, for filtering and tests).
    - `message`: one sentence for people, saying what happens and why.
    - `nodes`: the nodes it concerns (may be empty when it concerns the whole program).
    - `severity`: `error` (torch.compile will fail / the plan is not usable as is), `warning`
      (the plan works but costs more than it seems) or `info`.
    - `details`: longer text (torch's own message, a stack frame) kept out of the headline.
    """

    kind: HazardKind
    message: str
    nodes: tuple[NodeRef, ...] = ()
    severity: Literal["error", "warning", "info"] = "warning"
    details: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "nodes": [n.to_dict() for n in self.nodes],
            "severity": self.severity,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hazard:
        return cls(
            kind=d["kind"],
            message=d["message"],
            nodes=tuple(NodeRef.from_dict(n) for n in d.get("nodes", ())),
            severity=d.get("severity", "warning"),
            details=d.get("details"),
        )
