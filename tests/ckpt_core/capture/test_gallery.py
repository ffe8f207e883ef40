"""Real models this project did not write, checked against torch itself.

For each gallery example (`examples/gallery/`: Hugging Face GPT-2, Llama and BERT with
`gradient_checkpointing_enable`, a timm ViT, torchtitan's op-level SAC and `checkpoint_wrapper`
blocks) the values ckptscope says are saved for backward equal, as a multiset of shape and dtype,
what autograd's `saved_tensors_hooks` sees while the real compiled model runs:

- default settings (inductor's decompositions and partition) against `backend="inductor"`;
- `decompositions="none"` against `aot_eager` (aot_autograd with the min-cut partitioner).

Small configs, random weights, no network. Runs under every torch of `scripts/torch_versions`.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

import ckpt_core
from ckpt_core.validate import validate_analysis
from tests.conftest import EXAMPLES

from .oracle import analysed_saved_tensors, packed_saved_tensors

pytestmark = pytest.mark.torch_compile

GALLERY = EXAMPLES / "gallery"
#: every gallery example, and Llama with eager attention (matmuls and softmax, not one SDPA op)
NAMES = sorted([*(p.stem for p in GALLERY.glob("*.py")), "llama_hf_eager"])
_VARIANTS = {"llama_hf_eager": ("llama_hf", 'attn_implementation="sdpa"',
                                'attn_implementation="eager"')}


def _missing_requirement(name: str) -> str | None:
    """Why an example cannot run on this install, or None."""
    needs = {"timm_vit": ("torchvision", "timm")}.get(name, ("transformers",) if "_hf" in name
                                                      else ())
    for module in needs:
        try:
            importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - a mismatched torchvision raises RuntimeError
            if module == "torchvision":
                return (f"timm needs a torchvision built for torch {torch.__version__}; "
                        f"none is importable here ({type(e).__name__}: {e})")
            return f"{module} is not importable ({type(e).__name__}: {e})"
    return None


_DOCS: dict[tuple[str, str], dict[str, Any]] = {}


def analysed(name: str, decompositions: str) -> dict[str, Any]:
    key = (name, decompositions)
    if key not in _DOCS:
        settings = ckpt_core.Settings(decompositions=decompositions)
        _DOCS[key] = ckpt_core.analyze_file(_file(name), settings).to_dict()
    return _DOCS[key]


def _file(name: str) -> Path:
    """The example's file; a variant is written once beside the session's temporary files."""
    if name not in _VARIANTS:
        return GALLERY / f"{name}.py"
    base, old, new = _VARIANTS[name]
    path = Path(tempfile.gettempdir()) / f"ckpt-gallery-{os.getpid()}" / f"{name}.py"
    if not path.exists():
        source = (GALLERY / f"{base}.py").read_text(encoding="utf-8")
        assert old in source
        path.parent.mkdir(exist_ok=True)
        path.write_text(source.replace(old, new), encoding="utf-8")
    return path


def _path(name: str) -> Path:
    reason = _missing_requirement(name)
    if reason:
        pytest.skip(reason)
    return _file(name)


def test_the_gallery_has_every_family() -> None:
    assert {"gpt2_hf", "llama_hf", "bert_hf", "timm_vit", "torchtitan_sac",
            "checkpoint_wrapper_blocks"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_saved_set_matches_autograd_under_aot_eager(name: str) -> None:
    path = _path(name)
    doc = analysed(name, "none")
    assert analysed_saved_tensors(doc) == packed_saved_tensors(path, "aot_eager")


@pytest.mark.parametrize("name", NAMES)
def test_saved_set_matches_autograd_under_inductor(name: str) -> None:
    path = _path(name)
    doc = analysed(name, "inductor")
    assert analysed_saved_tensors(doc) == packed_saved_tensors(path, "inductor")


@pytest.mark.parametrize("name", NAMES)
def test_checkpointed_blocks_recompute_and_explain(name: str) -> None:
    _path(name)
    doc = analysed(name, "inductor")
    validate_analysis(doc)
    fw = [n for r in doc["regions"] for n in r["graphs"]["forward"]["nodes"]]
    bw = [n for r in doc["regions"] for n in r["graphs"]["backward"]["nodes"]]
    assert any(n["status"] == "recompute" for n in bw), "the checkpointed blocks recompute"
    assert len({n["ac_region"] for n in fw} - {None}) >= 2, "one checkpoint region per block"
    joint = [n for r in doc["regions"] for n in r["graphs"]["joint"]["nodes"]]
    assert any(n["partitioner_reasons"] for n in joint), "torch's min-cut reasons were read"
