"""Write this pair's stored documents: `a.json`, a real analysis of `a.py` under the installed
torch, and `b.json`, the same analysis rewritten the way another torch version's document of
the same model differs. `b.json` is SIMULATED, not produced by another torch: see
`provenance.md`.

    .venv/bin/python tests/ckpt_core/diff/diff_pairs/torch_versions/make_golden.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ckpt_core

HERE = Path(__file__).resolve().parent
_SUFFIX = re.compile(r"^(?P<stem>.*?)(?:_(?P<n>\d+))?$")


def renamed(name: str) -> str:
    """Another FX numbering: `addmm` → `addmm_100`, `addmm_3` → `addmm_103`."""
    m = _SUFFIX.match(name)
    assert m is not None
    return f"{m.group('stem')}_{100 + int(m.group('n') or 0)}"


def other_version(doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    out["torch_version"] = "2.12.0+cpu (simulated)"
    for region in out["regions"]:
        for graph in region["graphs"].values():
            for n in graph["nodes"]:
                if n["op"] != "output":
                    n["name"] = renamed(n["name"])
                n["inputs"] = [renamed(x) for x in n["inputs"]]
                for key in ("view_of", "recompute_of"):
                    if n.get(key):
                        n[key] = renamed(n[key])
                n["source"] = None  # another stack-trace format: no snippet lines
                n["module_raw"] = None
        for s in region["saved"]:
            for key in ("forward_node", "backward_node", "storage_of"):
                if s.get(key):
                    s[key] = renamed(s[key])
    return out


def main() -> None:
    doc = ckpt_core.analyze_file(HERE / "a.py").to_dict()
    doc.pop("snippet_source", None)
    (HERE / "a.json").write_text(json.dumps(doc, indent=None, sort_keys=True) + "\n")
    (HERE / "b.json").write_text(json.dumps(other_version(doc), sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
