"""An independent oracle for "what is saved": autograd's own saved-tensor hooks.

A compiled region's autograd.Function calls `ctx.save_for_backward` with exactly the values the
partitioner chose to save; `torch.autograd.graph.saved_tensors_hooks` sees each of them. Running
the snippet under a stock torch backend with the same partitioner and comparing the packed
tensors with the analysis' saved list checks the capture against torch itself.
"""

from __future__ import annotations

import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.utils._pytree import tree_leaves


def load(path: Path) -> dict[str, Any]:
    ns = runpy.run_path(str(path))
    inputs = ns["example_inputs"]
    ns["example_inputs"] = tuple(inputs() if callable(inputs) else inputs)
    return ns


def packed_saved_tensors(path: Path, backend: Any, **functorch_config: Any) -> Counter[str]:
    """Shapes and dtypes autograd packs while the compiled forward runs."""
    ns = load(path)
    packed: Counter[str] = Counter()

    def pack(t: torch.Tensor) -> torch.Tensor:
        packed[f"{tuple(t.shape)}:{str(t.dtype).removeprefix('torch.')}"] += 1
        return t

    torch._dynamo.reset()
    try:
        with torch._functorch.config.patch(functorch_config), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = torch.compile(ns["model"], backend=backend)(*ns["example_inputs"])
        loss = ns["loss"](out) if "loss" in ns else sum(
            t.sum() for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.requires_grad)
        loss.backward()
    finally:
        torch._dynamo.reset()
    return packed


def analysed_saved_tensors(doc: dict[str, Any]) -> Counter[str]:
    out: Counter[str] = Counter()
    for region in doc["regions"]:
        for s in region["saved"]:
            if s["kind"] != "symint":
                out[f"{tuple(s['shape'] or ())}:{s['dtype']}"] += 1
    return out
