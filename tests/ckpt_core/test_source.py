"""Static snippet checks: syntax errors with line and column, forbidden compile/config calls."""

from __future__ import annotations

import pytest

from ckpt_core import SnippetContractError, SnippetSyntaxError
from ckpt_core.source import check_source

OK = "import torch\nmodel = torch.nn.Linear(2, 2)\nexample_inputs = (torch.randn(1, 2),)\n"


def test_accepts_a_valid_snippet() -> None:
    check_source(OK)


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(SnippetSyntaxError) as info:
        check_source("import torch\nmodel = (\nexample_inputs = 3 +\n")
    assert info.value.line is not None and info.value.line >= 2
    assert "line" in info.value.message and "column" in info.value.message


@pytest.mark.parametrize(
    ("snippet", "line"),
    [
        (OK + "model = torch.compile(model)\n", 4),
        (OK + "import torch as t\nf = t.compile(model)\n", 5),
        (OK + "from torch import compile\nm = compile(model)\n", 5),
        (OK + "@torch.compile\ndef f(x):\n    return x\n", 4),
        (OK + "torch._dynamo.config.cache_size_limit = 1\n", 4),
        (OK + "import torch._functorch.config as fc\nfc.activation_memory_budget = 0.1\n", 5),
        (OK + "from torch._inductor import config\nconfig.max_autotune = True\n", 5),
        (OK + "torch._functorch.config.patch(activation_memory_budget=0.1)\n", 4),
    ],
)
def test_refuses_compile_and_config_changes_with_line(snippet: str, line: int) -> None:
    with pytest.raises(SnippetContractError) as info:
        check_source(snippet)
    assert info.value.line == line
    assert "analysis settings" in info.value.message


def test_missing_model_and_inputs() -> None:
    with pytest.raises(SnippetContractError, match="`model` or `example_inputs`"):
        check_source("import torch\nx = 1\n")


def test_oversize_snippet_is_refused() -> None:
    with pytest.raises(SnippetContractError, match="limit"):
        check_source(OK + "#" * (300 * 1024))


def test_null_bytes_are_a_syntax_error() -> None:
    with pytest.raises(SnippetSyntaxError):
        check_source("model = 1\x00\nexample_inputs = ()\n")
