"""Runs one job in a child process for the trusted local backend: JobSpec JSON in, outcome out.

Reads `{"source", "settings", "snippet_name", "options"}` on stdin and writes JSON lines on
stdout: `{"event": {"stage", "message"}}` as each stage begins, then one last line,
`{"result": …}` or `{"error": {type, code, message, line}}`. Only trusted
snippets may run this way (no sandbox): it is the fallback when the worker is not installed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ckpt_core import CkptError, Settings, analyze_source
from ckpt_core.memory.summary import with_memory
from ckpt_core.policy import whatif_job
from ckpt_core.sweep import sweep


def _stage(stage: str, message: str) -> None:
    sys.stdout.write(json.dumps({"event": {"stage": stage, "message": message}}) + "\n")
    sys.stdout.flush()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        settings = Settings.from_dict(spec.get("settings"))
        name = spec.get("snippet_name", "snippet.py")
        budgets = (spec.get("options") or {}).get("sweep_budgets")
        if budgets is not None:  # a sweep: one trace, one analysis per budget, in order
            with tempfile.TemporaryDirectory(prefix="ckpt-sweep-") as tmp:
                path = Path(tmp) / (Path(name).name or "snippet.py")
                path.write_text(spec["source"], encoding="utf-8")  # a path: never taken as text
                result = sweep(path, [float(b) for b in budgets], settings, name=name)
            return {"result": {"analyses": [p.analysis.to_dict() for p in result.points]}}
        if (spec.get("options") or {}).get("whatif") is not None:  # a what-if: one trace
            _stage("partitioning", "re-partitioning with the what-if's checkpoint tags")
            with tempfile.TemporaryDirectory(prefix="ckpt-whatif-") as tmp:
                path = Path(tmp) / (Path(name).name or "snippet.py")
                path.write_text(spec["source"], encoding="utf-8")
                return {"result": whatif_job(path, settings, name, spec["options"])}
        analysis = analyze_source(spec["source"], settings, name=name, on_stage=_stage)
        _stage("analysing", "classifying saved and recomputed values")
        return {"result": with_memory(analysis).to_dict()}
    except CkptError as e:
        return {"error": e.to_dict()}


def main() -> int:
    spec = json.loads(sys.stdin.read())
    out = run(spec)
    sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
