"""Another torch's interpreter for `ckpt worker --python`: check it can run ckpt_core, and read
which torch it has (the version its queues are named after)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import ckpt_core

#: importing a CUDA build of torch (and ckpt_core's capture) takes a while on a cold disk
PROBE_TIMEOUT_S = 300.0

_PROBE = (
    "import os, sys\n"
    "sys.path.append(os.environ['CKPT_CORE_PARENT'])\n"
    "import torch\n"
    "import ckpt_core.capture\n"
    "print(torch.__version__)\n"
)


def probe_torch_version(python: str) -> str:
    """The torch version `python` runs ckpt_core with; `ValueError` saying what is wrong."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ValueError(f"--python {python}: no executable there; give a virtualenv's "
                         "bin/python (scripts/torch_versions --setup-only VERSION makes one)")
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "CKPT_CORE_PARENT": str(Path(ckpt_core.__file__).resolve().parent.parent)}
    try:
        done = subprocess.run([python, "-I", "-c", _PROBE], env=env, capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise ValueError(f"--python {python}: importing torch and ckpt_core took over "
                         f"{PROBE_TIMEOUT_S:.0f} s") from e
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ValueError(f"--python {python} cannot run ckpt_core: {last} (install torch and "
                         "ckpt_core's dependencies there: scripts/torch_versions --setup-only)")
    version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if not version:
        raise ValueError(f"--python {python}: torch printed no version")
    return version
