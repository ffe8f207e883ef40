"""Policy what-if (`ckpt_core.whatif`): change what is saved or recomputed on the captured joint
graph, re-run only torch's partitioner, and take the result home as code.

    whatif(snippet_or_analysis, overrides, settings) -> WhatIfResult      (needs torch)
    parse_override("op:aten.mm.default", "MUST_SAVE") -> Override
    resolve(analysis, overrides) -> TagPlan                                  (pure)
    export_policy(plan_analysis, base, plan) -> PolicyCode; write_snippet(...)  (pure)

A what-if never re-traces: the overrides become the checkpoint tags of the joint graph that the
trace kept (what a policy function would have produced), and the partitioner runs on it under
the what-if's settings, as the memory-budget sweep does for each budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..diff import GraphDiff, diff
from ..errors import OverrideError
from ..ir import Analysis, Hazard
from ..memory.summary import with_memory
from ..settings import BAN_RECOMPUTE_FLAGS, Settings
from .export import PolicyCode, export_policy, write_snippet
from .overrides import (
    ACTIONS,
    SELECTOR_KINDS,
    Action,
    Override,
    TagPlan,
    overrides_from_list,
    parse_override,
    resolve,
)

if TYPE_CHECKING:
    from ..capture.traced import Traced

__all__ = [
    "ACTIONS",
    "SELECTOR_KINDS",
    "Action",
    "Override",
    "PolicyCode",
    "TagPlan",
    "WhatIfResult",
    "check_same_trace",
    "export_policy",
    "normalize_overrides",
    "overrides_from_list",
    "parse_override",
    "resolve",
    "whatif",
    "whatif_job",
    "whatif_traced",
    "write_snippet",
]

#: Settings a what-if may change: the partitioner's (and the cost profile, read afterwards);
#: every other setting shapes the trace itself.
PARTITIONER_SETTINGS = ("partitioner", "memory_budget", "budget_solver", *BAN_RECOMPUTE_FLAGS)
REPARTITION_SETTINGS = (*PARTITIONER_SETTINGS, "cost_profile")
#: The figures `WhatIfResult.deltas` compares.
DELTA_FIELDS = ("saved_activation_bytes", "recompute_flops", "recompute_bytes_moved",
                "saved_count", "recomputed_count")


@dataclass(frozen=True)
class WhatIfResult:
    """A what-if: the new plan (`analysis`: a complete analysis whose `overrides` and `whatif`
    keys say how it was made), the `base` it changed, the `deltas` (plan − base) of memory and
    recompute cost, the `new_hazards`, the `plan` of tags, the `policy` code, and their `diff`
    (computed when first asked for: a worker returns only the plan, and the server diffs
    stored documents on demand)."""

    analysis: Analysis
    base: Analysis
    deltas: dict[str, float]
    new_hazards: tuple[Hazard, ...]
    plan: TagPlan
    policy: PolicyCode

    @functools.cached_property
    def diff(self) -> GraphDiff:
        """What moved between the original and the plan (`ckpt_core.diff`)."""
        with _collector_paused():
            return diff([self.base, self.analysis], labels=["original", "what-if"])

    @property
    def notes(self) -> tuple[str, ...]:
        return self.plan.notes + self.policy.notes

    def snippet(self) -> str:
        """The base snippet with the exported policies applied."""
        return write_snippet(self.base.snippet_source, self.policy.code, self.plan.overrides)

    def to_dict(self, *, with_analyses: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "whatif",
            "overrides": [o.to_dict() for o in self.plan.overrides],
            "settings": dict(self.analysis.settings),
            "deltas": dict(self.deltas),
            "new_hazards": [h.to_dict() for h in self.new_hazards],
            "notes": list(self.notes),
            "matched": dict(self.plan.matched),
            "changed_ops": self.plan.changed,
            "policy_code": self.policy.code,
            "save_list": list(self.policy.save_list) if self.policy.save_list else None,
            "diff": self.diff.to_dict(),
        }
        if with_analyses:
            out["analysis"] = self.analysis.to_dict()
        return out


def normalize_overrides(overrides: Iterable[Override | Mapping[str, Any] | tuple[str, str]],
                        ) -> tuple[Override, ...]:
    """Overrides given as `Override`s, `{"selector", "action"}` mappings or pairs."""
    out = []
    for o in overrides:
        if isinstance(o, Override):
            out.append(parse_override(o.selector, o.action))
        elif isinstance(o, Mapping):
            out.extend(overrides_from_list([dict(o)]))
        elif isinstance(o, tuple) and len(o) == 2:
            out.append(parse_override(*o))
        else:
            raise OverrideError(f"override {o!r}: expected (selector, action)")
    return tuple(out)


def check_same_trace(base: Settings, settings: Settings) -> None:
    """A what-if only re-partitions: settings that shape the trace must stay the base's."""
    for name in (f.name for f in dataclasses.fields(Settings)):
        if name not in REPARTITION_SETTINGS and getattr(base, name) != getattr(settings, name):
            raise OverrideError(
                f"settings.{name}: a what-if re-runs only the partitioner on the base's trace, "
                f"so {name} stays {getattr(base, name)!r} (asked: {getattr(settings, name)!r}); "
                "run a new analysis to change it")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The documents built here are large and acyclic: a full pass of the cyclic collector over
    the trace's graphs, triggered by their allocations, would cost more than building them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def new_hazards(base: Analysis, plan: Analysis) -> tuple[Hazard, ...]:
    """The plan's hazards (`ckpt_core.hazards`) that the base does not have: another kind, or
    the same kind on other nodes."""
    def key(h: Hazard) -> tuple[str, frozenset[tuple[int, str, str]]]:
        return h.kind, frozenset((n.region, n.graph, n.name) for n in h.nodes)

    known = {key(h) for h in base.hazards}
    return tuple(h for h in plan.hazards if key(h) not in known)


def whatif_traced(t: Traced, base: Analysis, overrides: Sequence[Override],
                  settings: Settings | None = None) -> WhatIfResult:
    """The what-if of `overrides` on `base`, re-partitioning the trace `t` of its snippet."""
    settings = settings or Settings.from_dict(base.settings)
    check_same_trace(t.settings, settings)
    start = time.perf_counter()
    plan = resolve(base, overrides)
    tags = {r: {name: (tag.policy, tag.ac_region) for name, tag in d.items()}
            for r, d in plan.tags.items()}
    analysis = t.analysis(settings.memory_budget, settings=settings, tags=tags)
    with _collector_paused():
        analysis = with_memory(analysis)
        policy = export_policy(analysis, base, plan)
        base = base if "memory" in base.extras else with_memory(base)
        deltas: dict[str, float] = {
            f: int(analysis.summary.get(f) or 0) - int(base.summary.get(f) or 0)
            for f in DELTA_FIELDS}
        # the cost model's estimate, on the plan's device profile
        deltas["recompute_time_s"] = (float(analysis.summary.get("recompute_time_s") or 0.0)
                                      - float(base.summary.get("recompute_time_s") or 0.0))
        deltas["peak_bytes"] = (int(analysis.extras["memory"]["peak_bytes"])
                                - int(base.extras["memory"]["peak_bytes"]))
        hazards = new_hazards(base, analysis)
        analysis = dataclasses.replace(analysis, timings_s={
            **analysis.timings_s, "whatif_s": round(time.perf_counter() - start, 6)})
        analysis = analysis.with_extras(
            overrides=[o.to_dict() for o in plan.overrides],
            whatif={
                "base_snippet_sha256": base.snippet_sha256,
                "base_settings": dict(base.settings),
                "notes": list(plan.notes + policy.notes),
                "matched": dict(plan.matched),
                "changed_ops": plan.changed,
                "deltas": dict(deltas),
                "new_hazards": [h.to_dict() for h in hazards],
                "policy_code": policy.code,
                "save_list": list(policy.save_list) if policy.save_list else None,
                "snippet": write_snippet(base.snippet_source, policy.code, plan.overrides),
            },
        )
    return WhatIfResult(analysis=analysis, base=base, deltas=deltas,
                        new_hazards=hazards, plan=plan, policy=policy)


def whatif(snippet_or_analysis: str | os.PathLike[str] | Analysis | Mapping[str, Any],
           overrides: Iterable[Override | Mapping[str, Any] | tuple[str, str]],
           settings: Settings | None = None, *, name: str | None = None,
           base_settings: Settings | None = None) -> WhatIfResult:
    """Apply `overrides` to a snippet (a path or its text) or to an analysis of one, and
    re-partition under `settings` (default: the base's). For a snippet, the original is
    analysed under `base_settings` (default: `settings` with plain torch.compile's partitioner
    settings). Needs torch: it traces once."""
    from ..capture.traced import traced

    given = normalize_overrides(overrides)
    if isinstance(snippet_or_analysis, Analysis | Mapping):
        given_base = (snippet_or_analysis if isinstance(snippet_or_analysis, Analysis)
                      else Analysis.from_dict(dict(snippet_or_analysis)))
        base: Analysis | None = given_base
        base_settings = Settings.from_dict(given_base.settings)
        source: str | os.PathLike[str] = given_base.snippet_source
        name = name or given_base.snippet_name
        resolve(given_base, given)  # a bad override fails before the trace
    else:
        base = None
        # the original: the snippet as plain torch.compile partitions it, traced alike
        defaults = Settings()
        base_settings = base_settings or (settings or defaults).replace(
            **{key: getattr(defaults, key) for key in PARTITIONER_SETTINGS})
        source = snippet_or_analysis
    settings = settings or base_settings
    check_same_trace(base_settings, settings)
    with traced(source, base_settings, name=name) as t:
        return whatif_traced(t, base or t.analysis(), given, settings)


def whatif_job(path: str | os.PathLike[str], settings: Settings, name: str,
               options: Mapping[str, Any]) -> dict[str, Any]:
    """A worker's what-if job (`options["whatif"]`: `base_settings`, `overrides`): the plan's
    analysis document, traced from the snippet file at `path`."""
    spec = options.get("whatif") or {}
    result = whatif(os.fspath(path), overrides_from_list(spec.get("overrides") or []), settings,
                    name=name, base_settings=Settings.from_dict(spec.get("base_settings")))
    return result.analysis.to_dict()
