"""Write one side of this pair: an analysis of `a.py` under the torch that runs this script.

`a.json` comes from the project's default torch (2.13.0 CPU), `b.json` from a torch 2.14.1
virtualenv made by `scripts/torch_versions` (see `provenance.md`):

    .venv/bin/python tests/ckpt_core/diff/diff_pairs/torch_versions/make_golden.py a
    PYTHONPATH=$PWD /work/torchvenvs/torch-2.14.1/bin/python \\
        tests/ckpt_core/diff/diff_pairs/torch_versions/make_golden.py b
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ckpt_core

HERE = Path(__file__).resolve().parent


def main(side: str) -> None:
    if side not in ("a", "b"):
        raise SystemExit("usage: make_golden.py a|b")
    doc = ckpt_core.analyze_file(HERE / "a.py").to_dict()
    doc.pop("snippet_source", None)
    doc["snippet_name"] = "a.py"
    (HERE / f"{side}.json").write_text(json.dumps(doc, indent=None, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
