"""Error messages without server details: paths relative to site-packages, the Python library
or the snippet; no host name; only the snippet-relevant lines of a crash (the rest is logged).
"""

from __future__ import annotations

import re
import socket
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: `…/site-packages/torch/x.py` → `torch/x.py`, `…/lib/python3.11/ast.py` → `python3.11/ast.py`
_START = r"(?<![\w.\-/:])"  # an absolute path begins here, not inside a relative one
_SEGMENT = r"/[^\s\"'(),:/]+"
_PACKAGES = re.compile(_START + f"(?:{_SEGMENT})*" + r"/(?:site|dist)-packages/")
_STDLIB = re.compile(_START + f"(?:{_SEGMENT})*" + r"/lib/(python3\.\d+)/")
#: any other absolute path (the snippet in its sandbox, a mount, a work dir): its last part
_OTHER = re.compile(_START + f"(?:{_SEGMENT})+" + r"/([^/\s\"'(),:\]]+)")
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+')
#: the most of a crash a user sees: the frames in their snippet and the exception line
MAX_EXCERPT_CHARS = 600


@cache
def _host_names() -> tuple[str, ...]:
    names = {socket.gethostname(), socket.getfqdn()}
    return tuple(sorted((n for n in names if n and n not in ("localhost",)), key=len,
                        reverse=True))


def redact(text: str) -> str:
    """`text` with installation paths made relative and this host's name removed."""
    text = _PACKAGES.sub("", text)
    text = _STDLIB.sub(r"\1/", text)
    text = text.replace(f"{REPO_ROOT}/", "")
    text = _OTHER.sub(r"\1", text)
    for name in _host_names():
        text = text.replace(name, "<host>")
    return text


def crash_excerpt(stderr: str) -> str:
    """What a user can act on from a crashed process' stderr: the traceback frames in their
    snippet (after `redact`, the only frames without a directory) and the last line."""
    lines = [line for line in redact(stderr).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    keep: list[str] = []
    for i, line in enumerate(lines[:-1]):
        frame = _FRAME.match(line)
        if frame and "/" not in frame.group(1) and not frame.group(1).startswith("<"):
            keep.append(line.strip())
            if not _FRAME.match(lines[i + 1]):
                keep.append("  " + lines[i + 1].strip())
    keep.append(lines[-1].strip())
    return "\n".join(keep)[-MAX_EXCERPT_CHARS:]
