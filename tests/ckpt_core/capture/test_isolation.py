"""Nothing leaks from one analysis into the next in the same process."""

from __future__ import annotations

import pytest
import torch
import torch._functorch.config

import ckpt_core
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.torch_compile


def strip_timings(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k != "timings_s"}


def test_settings_do_not_leak_between_analyses() -> None:
    before = (torch._functorch.config.activation_memory_budget,
              torch._functorch.config.ban_recompute_reductions)
    path = EXAMPLES / "memory_budget.py"
    first = ckpt_core.analyze_file(path).to_dict()
    ckpt_core.analyze_file(path, ckpt_core.Settings(memory_budget=0.0,
                                                    ban_recompute_reductions=False))
    again = ckpt_core.analyze_file(path).to_dict()
    assert strip_timings(first) == strip_timings(again)
    assert (torch._functorch.config.activation_memory_budget,
            torch._functorch.config.ban_recompute_reductions) == before
    assert torch.get_default_device() == torch.device("cpu")


def test_checkpoint_region_ids_are_renumbered_per_analysis() -> None:
    path = EXAMPLES / "two_regions.py"
    a = ckpt_core.analyze_file(path).to_dict()
    b = ckpt_core.analyze_file(path).to_dict()
    ids = lambda d: sorted({n["ac_region"] for n in d["regions"][0]["graphs"]["joint"]["nodes"]}  # noqa: E731
                           - {None})
    assert ids(a) == ids(b) == [1, 2]
    assert strip_timings(a) == strip_timings(b)


def test_a_failed_analysis_leaves_the_next_one_working() -> None:
    with pytest.raises(ckpt_core.GraphBreakError):
        ckpt_core.analyze_file(EXAMPLES / "graph_break.py", ckpt_core.Settings(fullgraph=True))
    doc = ckpt_core.analyze_file(EXAMPLES / "graph_break.py").to_dict()
    assert len(doc["regions"]) == 2
