"""Canonical module paths: wrapper segments dropped, raw path kept, RNG states owned by modules."""

from __future__ import annotations

import pytest

import ckpt_core
from ckpt_core.ir import Node
from ckpt_core.module_paths import (
    canonical_module_path,
    canonical_param_name,
    shared_root_offset,
    with_rng_owners,
)


@pytest.mark.parametrize(("raw", "canonical"), [
    ("blocks.0.__dict__._checkpoint_wrapped_module.fc1", "blocks.0.fc1"),
    ("_orig_mod.blocks.3.attn", "blocks.3.attn"),
    ("layers.1._fsdp_wrapped_module._checkpoint_wrapped_module.mlp", "layers.1.mlp"),
    ("module.encoder.layer.0", "encoder.layer.0"),
    ("args.0.model.layers.1.self_attn", "model.layers.1.self_attn"),
    ("kwargs.net.head", "head"),
    ("blocks.0.module_list.0", "blocks.0.module_list.0"),  # `module` only up front
    ("__dict__._checkpoint_wrapped_module", None),
    (None, None),
])
def test_wrapper_segments_are_dropped(raw: str | None, canonical: str | None) -> None:
    assert canonical_module_path(raw) == canonical


def test_parameter_names_keep_their_leaf() -> None:
    assert canonical_param_name("blocks.0.__dict__._checkpoint_wrapped_module.fc1.weight") == (
        "blocks.0.fc1.weight")
    assert canonical_param_name("_orig_mod.weight") == "weight"


def test_a_root_only_one_side_has_is_found_and_a_new_top_level_module_is_not() -> None:
    plain = ["blocks.0.fc1", "blocks.0.fc2", "blocks.1.fc1", "head"]
    assert shared_root_offset(["net." + p for p in plain] + ["net"], plain) == (1, 0)
    assert shared_root_offset(plain, ["model." + p for p in plain]) == (0, 1)
    assert shared_root_offset(plain, [*plain, "extra"]) == (0, 0)
    assert shared_root_offset(["blocks.0.fc1", "blocks.1.fc1"],
                              ["blocks.0.fc1", "blocks.1.fc1", "head"]) == (0, 0)


def test_an_rng_state_takes_the_module_of_the_op_it_feeds() -> None:
    nodes = [
        Node("fwd_rng_state_0", "placeholder", "fwd_rng_state_0"),
        Node("x", "placeholder", "x"),
        Node("rand", "call_function", "higher_order.graphsafe_run_with_rng_state",
             inputs=("fwd_rng_state_0", "x"), module="blocks.0.drop"),
        Node("output", "output", "output", inputs=("rand",)),
    ]
    owned = with_rng_owners(nodes)
    assert owned[0].module == "blocks.0.drop"
    assert owned[1].module is None  # not an RNG state: left alone


CHECKPOINT_WRAPPER_MODEL = '''
import torch
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return x + self.drop(torch.relu(self.fc1(x)))


model = nn.Sequential(*(checkpoint_wrapper(Block()) for _ in range(2)))
example_inputs = (torch.randn(4, 8),)
'''


@pytest.mark.torch_compile
@pytest.mark.parametrize("decompositions", ["inductor", "none"])
def test_checkpoint_wrapper_paths_are_canonical_and_rng_states_belong_to_dropout(
    decompositions: str,
) -> None:
    analysis = ckpt_core.analyze_source(
        CHECKPOINT_WRAPPER_MODEL, ckpt_core.Settings(decompositions=decompositions))  # type: ignore[arg-type]
    nodes = [n for r in analysis.regions for g in r.graphs.values() for n in g.nodes]
    modules = {n.module for n in nodes if n.module}
    assert {"0.fc1", "1.fc1"} <= modules
    assert not [m for m in modules if "_checkpoint_wrapped_module" in m or "__dict__" in m]
    raw = {n.module_raw for n in nodes if n.module_raw}
    assert "0.__dict__._checkpoint_wrapped_module.fc1" in raw
    params = {n.param for n in nodes if n.param}
    assert {"0.fc1.weight", "1.fc1.bias"} <= params
    rng = [n for n in nodes if n.status == "saved" and n.dtype in ("uint8", "int64")
           and ("rng" in n.name or "seed" in n.name)]
    assert rng, "dropout inside a checkpoint saves an RNG state"
    assert all(n.module and n.module.endswith("drop") for n in rng), [
        (n.name, n.module) for n in rng]


@pytest.mark.torch_compile
def test_a_data_parallel_model_has_the_paths_of_the_model_it_wraps() -> None:
    source = CHECKPOINT_WRAPPER_MODEL.replace(
        "model = nn.Sequential(*(checkpoint_wrapper(Block()) for _ in range(2)))",
        "model = nn.DataParallel(nn.Sequential(Block(), Block()))")
    analysis = ckpt_core.analyze_source(source, ckpt_core.Settings(decompositions="none"))
    nodes = [n for r in analysis.regions for g in r.graphs.values() for n in g.nodes]
    assert {"0.fc1", "1.fc1"} <= {n.module for n in nodes}
    assert any((n.module_raw or "").startswith("module.") for n in nodes)
    assert {"0.fc1.weight", "1.fc1.weight"} <= {n.param for n in nodes}
