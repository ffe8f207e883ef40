"""The torch releases installed beside this one, and how to run ckpt_core under each.

`scripts/torch_versions` makes one virtualenv per release, `$CKPT_TORCH_VENVS/torch-<version>/
bin/python`. The CLI's `--torch VERSION` and `ckpt torch-versions` find them here; `ckpt worker
--python` checks its interpreter with the same probe. Nothing here imports torch: the running
torch's version comes from its package metadata, another interpreter's from running it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: importing a CUDA build of torch (and ckpt_core's capture) takes a while on a cold disk
PROBE_TIMEOUT_S = 300.0

#: how another interpreter finds ckpt_core when its virtualenv has none: the directory
#: `core_parent()` names, passed as CKPT_CORE_PARENT (the sandbox's probe and entry do the same)
FIND_CKPT_CORE = "import os, sys; sys.path.append(os.environ['CKPT_CORE_PARENT'])\n"

_PROBE = (
    FIND_CKPT_CORE
    + "import torch\n"
    "import ckpt_core.capture\n"
    "print(torch.__version__)\n"
)

#: runs `python -m ckpt_core ARGS` with this checkout's ckpt_core, in isolated mode (-I: no
#: PYTHONPATH or user site from the caller's environment leaks into the other interpreter);
#: first on the path, unlike FIND_CKPT_CORE: the command must run this checkout's code
_BOOT = (
    "import os, sys\n"
    "sys.path.insert(0, os.environ['CKPT_CORE_PARENT'])\n"
    "from ckpt_core.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def core_parent() -> str:
    """The directory holding this ckpt_core package (put on the other interpreter's path)."""
    return str(Path(__file__).resolve().parent.parent)


def venv_root() -> Path:
    """Where scripts/torch_versions puts its virtualenvs (the same rule as the script)."""
    if env := os.environ.get("CKPT_TORCH_VENVS"):
        return Path(env)
    if Path("/work").is_dir():
        return Path("/work/torchvenvs")
    return Path.home() / ".cache" / "ckptscope" / "torch"


def current_version() -> str:
    """This interpreter's torch, e.g. "2.13.0+cpu" (from its metadata; torch is not imported)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def probe_torch_version(python: str, flag: str = "--python") -> str:
    """The torch version `python` runs ckpt_core with; `ValueError` saying what is wrong."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ValueError(f"{flag} {python}: no executable there; give a virtualenv's "
                         "bin/python (scripts/torch_versions --setup-only VERSION makes one)")
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "CKPT_CORE_PARENT": core_parent()}
    try:
        done = subprocess.run([python, "-I", "-c", _PROBE], env=env, capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as e:
        raise ValueError(f"{flag} {python}: importing torch and ckpt_core took over "
                         f"{PROBE_TIMEOUT_S:.0f} s") from e
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ValueError(f"{flag} {python} cannot run ckpt_core: {last} (install torch and "
                         "ckpt_core's dependencies there: scripts/torch_versions --setup-only)")
    version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if not version:
        raise ValueError(f"{flag} {python}: torch printed no version")
    return version


@dataclass(frozen=True)
class Installed:
    """One torch ckpt_core can run under: its version, or why it cannot be used."""

    python: str
    version: str | None  # None: the probe failed (see `problem`)
    current: bool = False
    problem: str = ""


def venv_pythons() -> list[Path]:
    """Each `torch-*/bin/python` under `venv_root()`, by name."""
    root = venv_root()
    if not root.is_dir():
        return []
    return sorted(p / "bin" / "python" for p in root.iterdir()
                  if p.name.startswith("torch-") and (p / "bin" / "python").is_file())


def installed() -> list[Installed]:
    """This interpreter's torch first, then each virtualenv's, probed (seconds each)."""
    out = [Installed(sys.executable, current_version(), current=True)]
    for python in venv_pythons():
        try:
            out.append(Installed(str(python), probe_torch_version(str(python), "--torch")))
        except ValueError as e:
            out.append(Installed(str(python), None, problem=str(e)))
    return out


def same_release(choice: str, version: str) -> bool:
    """`choice` names `version`: equal, or its public part ("2.15.0" for "2.15.0+cu132")."""
    return choice == version or version.split("+", 1)[0] == choice


def resolve(choice: str) -> str | None:
    """The interpreter that runs `--torch CHOICE`, or None for this one.

    CHOICE is a path to a Python interpreter (run as given), or a version such as "2.15.0"
    (this interpreter's own, else the virtualenv `torch-<version>`, else any virtualenv whose
    probed torch is that release). `ValueError` names the installed versions when none fits."""
    if os.sep in choice or choice.startswith("."):
        probe_torch_version(choice, "--torch")  # say now, not mid-run, when it cannot work
        return choice
    if same_release(choice, current_version()):
        return None
    named = venv_root() / f"torch-{choice}" / "bin" / "python"
    if named.is_file():
        version = probe_torch_version(str(named), "--torch")
        if not same_release(choice, version):
            raise ValueError(f"--torch {choice}: {named} runs torch {version}, not {choice}")
        return str(named)
    found = installed()
    for torch in found[1:]:
        if torch.version is not None and same_release(choice, torch.version):
            return torch.python
    usable = ", ".join(t.version for t in found if t.version is not None)
    raise ValueError(f"--torch {choice}: not installed here (installed: {usable}; "
                     f"scripts/torch_versions --setup-only {choice} puts one in {venv_root()})")


def run_under(python: str, argv: list[str]) -> int:
    """Run `ckpt ARGV` (a library subcommand) with `python`, this process's stdio passed
    through; its exit status."""
    env = dict(os.environ, CKPT_CORE_PARENT=core_parent())
    return subprocess.run([python, "-I", "-c", _BOOT, *argv], env=env, check=False).returncode
