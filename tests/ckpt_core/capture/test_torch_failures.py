"""Failures inside torch are torch's; the snippet is blamed only for its own frames."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch  # noqa: F401 -- torch first: its private modules import in that order
import torch._functorch.partitioners as partitioners
from torch._functorch._aot_autograd import runtime_wrappers

import ckpt_core
from ckpt_core.capture.run import _compile_error
from ckpt_core.capture.snippet import LoadedSnippet
from ckpt_core.errors import (
    CkptError,
    SnippetContractError,
    SnippetRuntimeError,
    TorchInternalError,
)
from server.app.errors import core_status, error_body


def raised_under_snippet(tmp_path: Path, call: str, **names: object) -> tuple[
        BaseException, LoadedSnippet]:
    """Run `call` from a function defined in a snippet file, as a model's forward would."""
    path = str(tmp_path / "snippet.py")
    source = f"def forward():\n    return {call}\n"
    namespace: dict[str, object] = dict(names)
    exec(compile(source, path, "exec"), namespace)
    snippet = LoadedSnippet(model=lambda: None, example_inputs=(), loss=None, path=path,
                            source=source)
    forward = namespace["forward"]
    assert callable(forward)
    with pytest.raises(Exception) as info:
        forward()
    return info.value, snippet


def test_an_exception_from_torchs_partitioner_is_torchs(tmp_path: Path) -> None:
    e, snippet = raised_under_snippet(
        tmp_path, "choose(None, None, memory_budget=2)",
        choose=partitioners.choose_saved_values_set)
    err = _compile_error(e, snippet)
    assert isinstance(err, TorchInternalError) and err.code == "torch_internal_error"
    assert "torch failed inside torch/_functorch/partitioners.py:" in err.message
    assert "in choose_saved_values_set while running line 2 of the snippet" in err.message
    assert "not the snippet's" in err.message
    assert "RuntimeError: The valid ranges for memory budget are 0 <= m <= 1" in err.message
    assert "raised" not in err.message.split("(")[0]  # never "the model raised"
    assert err.line == 2


def test_a_wall_of_torch_types_is_cut_and_kept_in_details(tmp_path: Path) -> None:
    state = runtime_wrappers._AutogradSavedState(types.SimpleNamespace(
        tensors_saved_for_backwards_with_vc_check_slice=slice(0, 200),
        tensors_saved_for_backwards_no_vc_check_slice=slice(200, 200)))
    e, snippet = raised_under_snippet(tmp_path, "save(None, [1.5] * 200)",
                                      save=state.save_from_forward)
    err = _compile_error(e, snippet)
    assert isinstance(err, TorchInternalError)
    assert len(err.message) <= TorchInternalError.MESSAGE_CHARS
    assert "in save_from_forward" in err.message and err.message.endswith("(see details)")
    assert err.details is not None and err.details.count("<class 'float'>") == 200
    again = CkptError.from_dict(err.to_dict())
    assert isinstance(again, TorchInternalError) and again.details == err.details
    assert core_status(err) == 422
    assert error_body(err.code, err.message, err.line, "TorchInternalError",
                      err.details)["details"] == err.details


def test_the_snippets_own_frame_is_the_snippets(tmp_path: Path) -> None:
    e, snippet = raised_under_snippet(tmp_path, "1 / 0")
    err = _compile_error(e, snippet)
    assert isinstance(err, SnippetRuntimeError)
    assert err.message.startswith("the model raised ZeroDivisionError") and err.line == 2


def test_a_wrong_number_of_example_inputs_points_at_example_inputs() -> None:
    source = ("import torch\nfrom torch import nn\n\nmodel = nn.Linear(4, 4)\n\n"
              "example_inputs = (torch.randn(2, 4), torch.randn(2, 4))\n")
    with pytest.raises(SnippetContractError) as info:
        ckpt_core.analyze_source(source)
    assert info.value.line == 6
    assert "`example_inputs` holds 2 value(s) but `model` is called as Linear.forward" in (
        info.value.message)


def test_an_import_error_inside_a_library_shows_its_root_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "visionlib"
    lib.mkdir()
    (lib / "_ops.py").write_text(
        "raise RuntimeError('operator visionlib::nms does not exist')\n")
    (lib / "__init__.py").write_text(
        "try:\n    from . import _ops\nexcept RuntimeError as e:\n"
        "    raise ImportError('visionlib failed to load its operators') from e\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = "import torch\nimport visionlib\nmodel = torch.nn.Linear(2, 2)\n" \
             "example_inputs = (torch.randn(1, 2),)\n"
    with pytest.raises(SnippetRuntimeError) as info:
        ckpt_core.analyze_source(source)
    message = info.value.message
    assert "ImportError: visionlib failed to load its operators" in message
    assert "caused by RuntimeError: operator visionlib::nms does not exist" in message
    assert "_ops.py:1" in message and info.value.line == 2
