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
from typing import Any

from ckpt_core import CkptError
from ckpt_core.runner import run_job


def _stage(stage: str, message: str) -> None:
    sys.stdout.write(json.dumps({"event": {"stage": stage, "message": message}}) + "\n")
    sys.stdout.flush()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        with tempfile.TemporaryDirectory(prefix="ckpt-local-") as tmp:
            return {"result": run_job(spec, tmp, _stage)}
    except CkptError as e:
        return {"error": e.to_dict()}


def main() -> int:
    spec = json.loads(sys.stdin.read())
    out = run(spec)
    sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
