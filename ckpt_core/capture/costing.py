"""Attach the recompute cost model to an analysis: resolve the device profile (reading the GPU's
name, or measuring this CPU once) and fill the `cost` key and the headline's cost figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import torch

from ..cost import cost_summary, resolve_profile
from ..ir import Analysis
from ..settings import Settings
from .cpu_profile import cpu_profile


def with_cost(analysis: Analysis, settings: Settings,
              knapsack: Iterable[Mapping[str, Any]] = ()) -> Analysis:
    """`analysis` with its `cost` key and `summary.recompute_time_s` / `forward_time_s` /
    `recompute_time_fraction` / `cost_profile` (see `ckpt_core.cost.cost_summary`)."""
    device = analysis.device
    wants_cpu = settings.cost_profile == "cpu" or (
        settings.cost_profile == "auto" and device == "cpu")
    gpu_name = torch.cuda.get_device_name() if device.startswith("cuda") else None
    profile = resolve_profile(settings.cost_profile, device,
                              cpu_profile() if wants_cpu else None, gpu_name)
    cost = cost_summary(analysis.regions, profile, knapsack)
    summary = {
        **analysis.summary,
        "recompute_bytes_moved": cost["recompute"]["bytes_moved"],
        "recompute_time_s": cost["recompute"]["time_s"],
        "forward_time_s": cost["forward"]["time_s"],
        "recompute_time_fraction": cost["recompute_time_fraction"],
        "cost_profile": profile.name,
    }
    return replace(analysis.with_extras(cost=cost), summary=summary)
