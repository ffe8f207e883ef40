"""One sentence per node saying why it is what it is: saved, recomputed, forward-only, an input,
a parameter, a tangent, a gradient or a graph output (pure, no torch).

Sentences derive from the node's requested and effective policies, the min-cut partitioner's own
constraints (`partitioner_reasons`) and the memory budget; nothing here second-guesses torch.
"""

from __future__ import annotations

from .ir import Node

RNG_SAVERS = ("higher_order.run_and_save_rng_state", "higher_order.graphsafe_run_with_rng_state")
_RECOMPUTE_POLICIES = ("MUST_RECOMPUTE", "PREFER_RECOMPUTE")
_SAVE_POLICIES = ("MUST_SAVE", "PREFER_SAVE")


def explain(node: Node, status: str, saved_kind: str | None = None,
            memory_budget: float = 1.0) -> str | None:
    """Why a forward (or joint) op is saved, recomputed, forward-only or unused.

    A `saved_kind` of `"base"` marks a node saved only through a view of it (see
    `saved_through_view`). None for statuses this function does not describe."""
    requested, policy = node.requested_policy, node.policy
    cannot_recompute = [r.removeprefix("cannot recompute: ") for r in node.partitioner_reasons
                        if r.startswith("cannot recompute")]
    budget = f"memory_budget={memory_budget:g}"
    if status == "saved" and saved_kind == "view" and node.view_of:
        return (f"saved: the backward reads this view of {node.view_of}; it costs no memory "
                f"of its own but keeps {node.view_of}'s storage alive")
    if status == "saved":
        if saved_kind == "rng_state":
            return "saved: RNG state, so the recompute in backward replays the same random numbers"
        if requested in _RECOMPUTE_POLICIES and policy == "MUST_SAVE":
            return (f"saved: it ends a checkpoint region and feeds the next one, so the "
                    f"partitioner turned the requested {requested} into MUST_SAVE")
        if requested in _SAVE_POLICIES:
            return f"saved: the checkpoint policy marked it {requested}"
        if cannot_recompute:
            return f"saved: the partitioner may not recompute it ({', '.join(cannot_recompute)})"
        if memory_budget < 1.0:
            return (f"saved: backward needs it, and under {budget} the knapsack kept it "
                    "(recomputing it would cost more than the memory it frees)")
        return ("saved: backward needs it, and the min-cut found saving it cheaper than "
                "recomputing it")
    if status == "recomputed":
        if node.target in RNG_SAVERS:
            return ("recomputed in backward: the random op is replayed from its saved RNG state "
                    "(functionalised RNG)")
        if requested in _SAVE_POLICIES and memory_budget < 1.0:
            return (f"recomputed in backward although the checkpoint policy asked for "
                    f"{requested}: {budget} made the partitioner's knapsack recompute it to fit "
                    "the budget")
        if policy in _RECOMPUTE_POLICIES or requested in _RECOMPUTE_POLICIES:
            return (f"recomputed in backward: the checkpoint policy marked it "
                    f"{policy if policy in _RECOMPUTE_POLICIES else requested}")
        if memory_budget < 1.0:
            return ("recomputed in backward: no checkpoint asked for it; the partitioner's "
                    f"knapsack chose recomputing it over saving it under {budget}")
        return ("recomputed in backward: no checkpoint asked for it; the min-cut partitioner "
                "chose recomputing it over saving it")
    if status == "forward_only":
        return "forward only: the backward neither reads it nor recomputes it"
    if status == "unused":
        return "unused: the partitioner dropped it (neither the forward's outputs nor the " \
               "backward need it)"
    return None


def saved_through_view(view: str, view_target: str) -> str:
    """Why a node whose own value is not saved still stays in memory for backward."""
    return (f"saved (through its view {view}): the backward keeps the {view_target} view "
            f"{view}, and a view keeps its base's whole storage alive")


def explain_placeholder(node: Node, status: str, graph: str, saved_from: str | None = None,
                        saved_kind: str | None = None) -> str:
    """Why a graph input is there: a parameter, an input, a tangent, a saved value, an RNG
    state; `saved_from` names the forward value a backward placeholder receives."""
    if status == "parameter":
        what = f"parameter {node.param}" if node.param else "parameter or buffer"
        return (f"{what}: alive for the whole step anyway, so the backward reading it costs "
                "no extra memory")
    if status == "tangent":
        return ("tangent: the gradient flowing into this region from the loss (or from the "
                "next region), one per differentiable output")
    if graph == "backward" and status == "saved":
        if saved_kind in ("input", "parameter"):
            return (f"saved: the forward's {saved_from or node.name} ({saved_kind}), alive "
                    "anyway, so keeping it costs nothing extra")
        if saved_kind == "view":
            return (f"saved: receives the forward's {saved_from or node.name}, a view (no memory "
                    "of its own; its base's storage stays alive until the backward reads it)")
        if saved_kind == "rng_state":
            return (f"saved: the RNG state from the forward's {saved_from or node.name}, "
                    "replayed by the recompute")
        return (f"saved: receives the forward's {saved_from or node.name}, kept in memory "
                "from the forward until the backward reads it")
    if node.name.startswith(("fwd_rng_state", "bwd_rng_state")):
        return "input: the RNG generator state the graph-safe random ops thread through"
    return ("input: a graph input given by the caller, alive anyway (the backward reading it "
            "costs no extra memory)")


def explain_backward(node: Node, status: str) -> str:
    """Why a backward node runs: a gradient op or the backward's output."""
    if status == "output":
        return "output: the gradients this region returns, for its inputs and parameters"
    if status == "gradient":
        where = f" of {node.module}" if node.module else ""
        return f"gradient: part of the backward pass{where} (computes gradients)"
    return "recomputes a forward op in backward"


def explain_output(graph: str, num_user_outputs: int, saved_count: int) -> str:
    """Why a graph's output node returns what it returns."""
    if graph == "forward":
        return (f"output: the region's {num_user_outputs} user output(s), then the "
                f"{saved_count} value(s) saved for backward")
    if graph == "joint":
        return "output: the forward's outputs and the backward's gradients, before partitioning"
    return explain_backward(Node(name="output", op="output", target="output"), "output")
