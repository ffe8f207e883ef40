"""Every class of bad snippet gets its own CkptError subclass, a clear message and the line."""

from __future__ import annotations

import re

import pytest

import ckpt_core
from ckpt_core import (
    CompileError,
    SettingsError,
    SnippetContractError,
    SnippetRuntimeError,
    SnippetSyntaxError,
)

pytestmark = pytest.mark.torch_compile

HEAD = "import torch\nfrom torch import nn\n"


def analyze(src: str, **settings: object) -> ckpt_core.Analysis:
    return ckpt_core.analyze_source(src, ckpt_core.Settings(**settings))  # type: ignore[arg-type]


def test_syntax_error() -> None:
    with pytest.raises(SnippetSyntaxError) as info:
        analyze(HEAD + "model = nn.Linear(2, 2\nexample_inputs = ()\n")
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("model = nn.Linear\nexample_inputs = (torch.randn(1, 2),)\n", "class Linear"),
        ("model = 3\nexample_inputs = (torch.randn(1, 2),)\n", "nn.Module or a function"),
        ("model = nn.Linear(2, 2)\nexample_inputs = torch.randn(1, 2)\n", "single tensor"),
        ("model = nn.Linear(2, 2)\nexample_inputs = 5\n", "tuple of tensors"),
        ("model = nn.Linear(2, 2)\nexample_inputs = (1, 2)\n", "contains no tensor"),
        ("model = nn.Linear(2, 2)\ndef example_inputs(n):\n    return (torch.randn(n, 2),)\n",
         "no arguments"),
        ("model = nn.Linear(2, 2)\nexample_inputs = (torch.randn(1, 2),)\nloss = 3\n",
         "`loss` must be a function"),
    ],
)
def test_contract_errors(body: str, match: str) -> None:
    with pytest.raises(SnippetContractError, match=match):
        analyze(HEAD + body)


def test_nothing_requires_grad() -> None:
    src = HEAD + (
        "model = nn.Linear(2, 2).requires_grad_(False)\n"
        "example_inputs = (torch.randn(1, 2),)\n"
    )
    with pytest.raises(SnippetContractError, match="nothing requires grad"):
        analyze(src)


def test_user_exception_at_import_keeps_the_snippet_traceback() -> None:
    src = HEAD + "def build():\n    raise ValueError('bad width')\nmodel = build()\n" \
        "example_inputs = ()\n"
    with pytest.raises(SnippetRuntimeError) as info:
        analyze(src)
    assert info.value.line == 4
    assert "ValueError: bad width" in info.value.message
    assert "line 3, in <module>" not in info.value.message  # only real snippet frames
    assert "line 5, in <module>: model = build()" in info.value.message


def test_user_exception_in_example_inputs() -> None:
    src = HEAD + "model = nn.Linear(2, 2)\ndef example_inputs():\n    return (1 / 0,)\n"
    with pytest.raises(SnippetRuntimeError, match="ZeroDivisionError") as info:
        analyze(src)
    assert info.value.line == 5


def test_shape_error_inside_forward_keeps_torchs_text_and_line() -> None:
    src = HEAD + (
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(3, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
        "model = M()\n"
        "example_inputs = (torch.randn(4, 5),)\n"
    )
    with pytest.raises((CompileError, SnippetRuntimeError)) as info:
        analyze(src)
    assert "same reduction dim, but got [4, 5] X [3, 2]" in info.value.message
    assert info.value.line == 8
    # the snippet is named, not the private temporary file it was analysed from
    assert re.search(r"/ckpt-[^/\s]+/snippet\.py", info.value.message) is None
    assert 'File "snippet.py", line 8' in info.value.message


def test_bad_sac_context_fn_keeps_torchs_message() -> None:
    src = HEAD + (
        "import contextlib\n"
        "from torch.utils.checkpoint import checkpoint\n"
        "def plain_contexts():\n"
        "    return contextlib.nullcontext(), contextlib.nullcontext()\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n"
        "    def forward(self, x):\n"
        "        return checkpoint(self.fc, x, use_reentrant=False, context_fn=plain_contexts)\n"
        "model = M()\n"
        "example_inputs = (torch.randn(2, 4),)\n"
    )
    with pytest.raises(ckpt_core.CkptError) as info:
        analyze(src)
    assert "must generate a tuple of two `TorchDispatchMode`s" in info.value.message


def test_cuda_requested_without_a_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SettingsError, match="no CUDA device"):
        analyze(HEAD + "model = nn.Linear(2, 2)\nexample_inputs = (torch.randn(1, 2),)\n",
                device="cuda")


def test_loss_must_return_a_scalar() -> None:
    src = HEAD + "model = nn.Linear(2, 2)\nexample_inputs = (torch.randn(3, 2),)\n" \
        "def loss(out):\n    return out\n"
    with pytest.raises(SnippetContractError, match="scalar tensor"):
        analyze(src)


def test_function_model_with_grad_input() -> None:
    src = HEAD + (
        "def model(x, w):\n    return (x @ w).relu().sum(0)\n"
        "example_inputs = (torch.randn(3, 4, requires_grad=True), torch.randn(4, 5))\n"
    )
    doc = analyze(src).to_dict()
    ckpt_core.validate_analysis(doc)
    assert doc["regions"][0]["graphs"]["forward"]["nodes"][0]["status"] == "input"


def test_function_model_over_global_modules_with_an_inference_region() -> None:
    """Parameters reached through globals count; a no-grad region before a graph break is kept
    as an inference-only region (no backward graph)."""
    src = HEAD + (
        "lin = nn.Linear(4, 4)\n"
        "def model(x):\n"
        "    with torch.no_grad():\n"
        "        scale = (x * 2).mean()\n"
        "    print('break')\n"
        "    return {'out': lin(x).relu() * scale, 'n': 3}\n"
        "example_inputs = (torch.randn(3, 4),)\n"
        "def loss(o):\n"
        "    return o['out'].sum()\n"
    )
    doc = analyze(src).to_dict()
    ckpt_core.validate_analysis(doc)
    assert [sorted(r["graphs"]) for r in doc["regions"]] == [
        ["forward"], ["backward", "forward", "joint"]]
    assert doc["regions"][0]["saved"] == []


def test_in_process_analysis_attaches_the_models_own_source() -> None:
    import runpy

    from tests.conftest import EXAMPLES

    ns = runpy.run_path(str(EXAMPLES / "two_regions.py"))
    doc = ckpt_core.analyze(ns["model"], ns["example_inputs"]).to_dict()
    ckpt_core.validate_analysis(doc)
    assert doc["snippet_name"] == "two_regions.py"
    lines = {n["source"]["line"] for n in doc["regions"][0]["graphs"]["forward"]["nodes"]
             if n["source"]}
    assert 20 in lines  # `h = h.sin() * 2`


def test_a_library_import_failure_shows_its_root_cause(tmp_path: object) -> None:
    """A library that fails to import (e.g. transformers beside a torchvision built for another
    torch) is reported with the error it was raised from and where that was raised."""
    from pathlib import Path

    pkg = Path(str(tmp_path)) / "brokenlib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "try:\n"
        "    raise RuntimeError('operator torchvision::nms does not exist')\n"
        "except RuntimeError as e:\n"
        "    raise ImportError('Failed to import brokenlib.models') from e\n")
    src = HEAD + (f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport brokenlib\n"
                  "model = nn.Linear(2, 2)\nexample_inputs = (torch.randn(1, 2),)\n")
    try:
        with pytest.raises(SnippetRuntimeError) as info:
            analyze(src)
    finally:
        import sys

        sys.modules.pop("brokenlib", None)
    message = info.value.message
    assert "ImportError: Failed to import brokenlib.models" in message
    assert "caused by RuntimeError: operator torchvision::nms does not exist" in message
    assert re.search(r"raised at .*brokenlib/__init__\.py:2", message)
    assert info.value.line == 5
