"""Runs one job in a child process for the trusted local backend: JobSpec JSON in, outcome out.

Reads `{"source", "settings", "snippet_name", "options"}` on stdin and writes one JSON line,
`{"result": …}` or `{"error": {type, code, message, line}}`, on stdout. Only trusted
snippets may run this way (no sandbox): it is the fallback when the worker is not installed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ckpt_core import CkptError, Settings, analyze_source
from ckpt_core.memory.summary import with_memory


def run(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        settings = Settings.from_dict(spec.get("settings"))
        analysis = analyze_source(spec["source"], settings,
                                  name=spec.get("snippet_name", "snippet.py"))
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
