"""Check a partition the way torch's runtime will, and say so when torch.compile would fail.

aot_autograd hands the forward's saved values to `save_for_backward`: each must be a tensor (or
a SymInt / SymFloat, kept aside on the autograd context). torch 2.13's min-cut partitioner can
nevertheless choose a multi-output node itself (for a SAC model under a memory budget strictly
between 0 and 1, the CPU flash-attention op marked MUST_SAVE), and torch.compile then fails in
`_AutogradSavedState.save_from_forward` ("expected all tensors_saved_with_vc_check to be
Tensors"). The partition itself is complete and is what ckptscope shows; this check marks it with
a `torch_compile_fails` hazard. Pure: reads only the IR, so a stored document, a fresh analysis
and a sweep point are checked alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ir import Hazard, Node, NodeRef, Region, SavedValue

#: dtypes that are not tensors but that aot_autograd saves beside them (on the context)
_SYMBOLIC = ("symint", "symfloat")
#: how much of torch's own message a hazard's `details` keeps
DETAILS_CHARS = 600


def unsaveable(region: Region) -> list[tuple[SavedValue, Node]]:
    """Saved values torch's runtime will refuse: values of several tensors (a multi-output node
    saved instead of its `getitem`s). Opaque script objects (no dtype) are torch's to handle."""
    forward = region.graph("forward")
    if forward is None:
        return []
    nodes = forward.by_name()
    out = []
    for s in region.saved:
        node = nodes.get(s.forward_node)
        if (node is not None and node.op == "call_function" and node.shape is None
                and node.dtype is not None and node.dtype not in _SYMBOLIC):
            out.append((s, node))
    return out


def runtime_hazards(
    regions: Iterable[Region], torch_error: str | None = None
) -> tuple[Hazard, ...]:
    """One `torch_compile_fails` hazard per region whose saved values torch will refuse;
    `torch_error` is torch's own message when the run really failed that way."""
    hazards = []
    for region in regions:
        bad = unsaveable(region)
        if not bad:
            continue
        names = ", ".join(f"`{n.name}` ({n.wraps or n.target}"
                          f"{' in ' + n.module if n.module else ''})" for _, n in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        details = None
        if torch_error:
            details = torch_error if len(torch_error) <= DETAILS_CHARS else (
                torch_error[:DETAILS_CHARS] + f" … ({len(torch_error) - DETAILS_CHARS} more "
                "characters)")
        hazards.append(Hazard(
            kind="torch_compile_fails",
            message=(
                f"torch.compile fails with this plan (region {region.index}): torch's "
                f"partitioner saves {names}{more} for backward, a value of several tensors "
                "rather than a tensor, and aot_autograd's runtime accepts only tensors and "
                "SymInts (save_from_forward raises AssertionError). This is torch's failure, "
                "not the snippet's: the plan shown is the partition torch chose."),
            nodes=tuple(NodeRef(region.index, "forward", n.name) for _, n in bad),
            severity="error",
            details=details,
        ))
    return tuple(hazards)
