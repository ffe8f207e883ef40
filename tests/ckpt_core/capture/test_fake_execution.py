"""Fake-tensor execution against real execution: the same analysis from shapes and dtypes alone.

Every example is analysed on the CPU twice, once on real tensors and once with
`execution="fake"`; the documents (graphs, tags, saved and recomputed sets, bytes, FLOPs, the
memory timeline) must agree field for field, except the timings and the setting itself. Each
document is compiled once per module and shared by the tests that compare it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import ckpt_core
from ckpt_core.errors import SettingsError, SnippetContractError
from ckpt_core.memory.summary import with_memory
from ckpt_core.report import text_summary
from tests.conftest import EXAMPLES, example_names

pytestmark = pytest.mark.torch_compile

ALL_EXAMPLES = example_names()
#: full-size examples, compared at a small size below (their full size: bench/bench_fullsize.py)
FULL_SIZE = {"llama3_8b_sac": ("CONFIG = Config()", "CONFIG = Config(layers=2, dim=64, heads=4, "
                               "kv_heads=2, mlp=128, vocab=256, seq=32)")}


def comparable(analysis: ckpt_core.Analysis) -> dict[str, Any]:
    doc = copy.deepcopy(with_memory(analysis).to_dict())
    doc.pop("timings_s")
    doc["settings"].pop("execution")
    return doc


_DOCS: dict[tuple[str, str], dict[str, Any]] = {}


def analysed(example: str, execution: str, decompositions: str = "inductor") -> dict[str, Any]:
    key = (example, execution + decompositions)
    if key not in _DOCS:
        settings = ckpt_core.Settings(device="cpu", execution=execution,
                                      decompositions=decompositions)
        source = (EXAMPLES / f"{example}.py").read_text()
        if example in FULL_SIZE:
            full, small = FULL_SIZE[example]
            assert full in source, f"{example}: the line {full!r} is gone"
            source = source.replace(full, small)
        analysis = ckpt_core.analyze_source(source, settings, name=f"{example}.py")
        _DOCS[key] = comparable(analysis)
    return _DOCS[key]


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two documents first differ, as a readable path (None when equal)."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: only on one side"
            found = first_difference(a[k], b[k], f"{path}/{k}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_fake_execution_gives_the_real_analysis(example: str) -> None:
    real, fake = analysed(example, "real"), analysed(example, "fake")
    assert first_difference(real, fake) is None
    assert fake["summary"]["saved_count"] > 0


@pytest.mark.parametrize("example", ["memory_budget", "dropout_checkpoint"])
def test_fake_execution_gives_the_real_analysis_without_decompositions(example: str) -> None:
    real, fake = analysed(example, "real", "none"), analysed(example, "fake", "none")
    assert first_difference(real, fake) is None


def test_fake_execution_records_itself_in_the_document() -> None:
    settings = ckpt_core.Settings(device="cpu", execution="fake")
    analysis = ckpt_core.analyze_file(EXAMPLES / "mlp_checkpoint.py", settings)
    doc = analysis.to_dict()
    ckpt_core.validate_analysis(doc)
    assert doc["settings"]["execution"] == "fake" and doc["device"] == "cpu"
    header = text_summary(doc).splitlines()[0]
    assert "FAKE TENSORS" in header and "cpu op choices" in header


_HUGE = """
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class Wide(nn.Module):
    def __init__(self):
        super().__init__()
        # 65536 x 65536 fp32 weights: 16 GiB each, 32 GiB in all
        self.up = nn.Linear(65536, 65536, bias=False)
        self.down = nn.Linear(65536, 65536, bias=False)

    def forward(self, x):
        return checkpoint(lambda h: self.down(torch.relu(self.up(h))), x, use_reentrant=False)


model = Wide()
example_inputs = (torch.randn(8, 65536, requires_grad=True),)
"""


def test_a_model_far_larger_than_memory_analyses_on_fake_tensors() -> None:
    import resource

    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    analysis = ckpt_core.analyze_source(_HUGE, ckpt_core.Settings(device="cpu", execution="fake"),
                                        name="wide.py")
    grown_bytes = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib) * 1024
    params = [n for n in analysis.regions[0].graphs["forward"].nodes if n.status == "parameter"]
    assert sorted(n.bytes for n in params) == [65536 * 65536 * 4] * 2
    assert grown_bytes < 1 << 30  # 32 GiB of parameters, well under 1 GiB of process growth


def test_real_tensors_in_a_fake_model_are_refused() -> None:
    # a tensor made while the fake mode is switched off is real memory in a fake model
    source = ("import torch\nfrom torch import nn\n"
              "from torch._subclasses.fake_tensor import unset_fake_temporarily\n\n"
              "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        with unset_fake_temporarily():\n"
              "            self.w = nn.Parameter(torch.ones(4, 4))\n\n"
              "    def forward(self, x):\n        return x @ self.w\n\n"
              "model = M()\nexample_inputs = (torch.randn(2, 4),)\n")
    with pytest.raises(SnippetContractError, match=r"real tensors .*\(w\)"):
        ckpt_core.analyze_source(source, ckpt_core.Settings(device="cpu", execution="fake"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device traces fake CUDA")
def test_fake_cuda_without_a_cuda_device_is_refused_with_the_reason() -> None:
    settings = ckpt_core.Settings(device="cuda", execution="fake")
    with pytest.raises(SettingsError, match=r"needs a CUDA (build of torch and a CUDA )?device"):
        ckpt_core.analyze_file(EXAMPLES / "mlp_checkpoint.py", settings)


def test_a_live_model_cannot_be_analysed_fake() -> None:
    with pytest.raises(SettingsError, match="snippet"):
        ckpt_core.analyze(torch.nn.Linear(2, 2), (torch.randn(1, 2),),
                                ckpt_core.Settings(execution="fake"))


def test_a_fake_sweep_gives_the_real_plans() -> None:
    def plans(execution: str) -> list[list[list[str]]]:
        settings = ckpt_core.Settings(device="cpu", execution=execution)
        result = ckpt_core.sweep(EXAMPLES / "mlp_checkpoint.py", [1.0, 0.0], settings)
        return [[[s.forward_node for s in r.saved] for r in p.analysis.regions]
                for p in result.points]

    assert plans("fake") == plans("real")


def test_a_tensor_made_on_another_device_is_named() -> None:
    source = ("import torch\nfrom torch import nn\n\n"
              "model = nn.Linear(4, 4)\n"
              "example_inputs = (torch.randn(2, 4, device='cuda'),)\n")
    with pytest.raises(SnippetContractError, match=r"example_inputs\[0\] \(cuda:0\)"):
        ckpt_core.analyze_source(source, ckpt_core.Settings(device="cpu", execution="fake"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device for the real side")
@pytest.mark.parametrize("example", ["mlp_checkpoint", "dropout_checkpoint", "gpt_sac"])
def test_fake_cuda_gives_the_real_cuda_analysis(example: str) -> None:
    def doc(execution: str) -> dict[str, Any]:
        settings = ckpt_core.Settings(device="cuda", execution=execution)
        return comparable(ckpt_core.analyze_file(EXAMPLES / f"{example}.py", settings))

    real, fake = doc("real"), doc("fake")
    assert first_difference(real, fake) is None
