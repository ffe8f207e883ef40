"""How a sandbox is built: its limits, the bubblewrap command line, and the host checks.

The chain for one sandbox, each link doing one thing:

    sh (enrol in the job's cgroups) → prlimit (rlimits) → setpriv (drop to the sandbox user)
      → bwrap (namespaces, read-only binds, private /tmp, seccomp) → python -I entry.py

`--trusted-local` keeps only prlimit and an empty environment: no isolation at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ckpt_core
from ckpt_core.errors import SandboxError
from ckpt_core.torches import FIND_CKPT_CORE, core_parent

from .cgroups import CgroupManager
from .seccomp import ARCHES

log = logging.getLogger(__name__)

SANDBOX_USER = "ckpt-sandbox"
ENTRY = Path(__file__).with_name("entry.py")
#: where the entry script and the job directory appear inside the sandbox
ENTRY_IN_SANDBOX = "/opt/ckpt/entry.py"
JOB_DIR_IN_SANDBOX = "/job"
MiB = 1 << 20
GiB = 1 << 30


class SandboxUnavailableError(SandboxError):
    """This host cannot build the sandbox; the message says what to grant."""

    code = "sandbox_unavailable"


@dataclass(frozen=True)
class SandboxLimits:
    """Resource caps of one sandbox (sizes in bytes, times in seconds)."""

    memory_bytes: int = 6 * GiB
    pids_max: int = 512
    tmp_bytes: int = 1 * GiB
    file_bytes: int = 512 * MiB
    #: RLIMIT_AS; None on GPU sandboxes, where CUDA reserves vast address ranges
    address_space_bytes: int | None = 16 * GiB
    #: stdout + stderr the snippet may write; more kills the job
    output_bytes: int = 4 * MiB
    result_bytes: int = 64 * MiB
    startup_s: float = 180.0
    timeout_s: float = 300.0


@dataclass
class SandboxConfig:
    """Everything needed to start sandboxes of one kind (CPU, or one GPU)."""

    work_root: Path
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    #: False: --trusted-local, the entry runs as a plain child process
    isolate: bool = True
    #: host user the sandbox runs as; None keeps the worker's own (already unprivileged) user
    user: str | None = SANDBOX_USER
    python: str = sys.executable
    gpu: int | None = None
    cgroups: CgroupManager | None = None
    #: import torch before the job arrives (the pre-warmed pool); tests may turn it off
    preload: bool = True

    def ids(self) -> tuple[int, int] | None:
        if self.user is None:
            return None
        pw = pwd.getpwnam(self.user)
        return pw.pw_uid, pw.pw_gid


def _python_roots(python: str) -> list[str]:
    """Directories the sandbox must see for `python` to run: the venv and its base install."""
    probe = subprocess.run(
        [python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    prefix, base = probe.stdout.split()
    roots = {str(Path(prefix).resolve()), str(Path(base).resolve()),
             str(Path(python).resolve().parent.parent)}
    return sorted(r for r in roots if not r.startswith(("/usr/", "/bin", "/lib")) and r != "/usr")


_ROOTS_CACHE: dict[str, list[str]] = {}


def python_roots(python: str) -> list[str]:
    if python not in _ROOTS_CACHE:
        _ROOTS_CACHE[python] = _python_roots(python)
    return _ROOTS_CACHE[python]


def _system_binds() -> list[str]:
    """The read-only system: /usr and the merged-/usr links, the loader cache, the time zone."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    # no shells or tools: empty the program directories (the interpreter is bound back below)
    args += ["--tmpfs", "/usr/bin", "--tmpfs", "/usr/sbin", "--tmpfs", "/usr/local/bin"]
    return args


#: the program directories `_system_binds` empties
_EMPTIED = ("/usr/bin", "/usr/sbin", "/usr/local/bin")


def _interpreter_binds(python: str) -> list[str]:
    """Bring back the interpreter's chain of links, and the program it ends in, wherever they
    lie in a directory `_system_binds` emptied. A virtualenv's `bin/python` often points at
    `/usr/bin/python`, itself a link to `python3` and on to `python3.11` (Debian's Python, the
    official python images' /usr/local/bin): every hop must exist in the sandbox."""
    args: list[str] = []
    path = _canonical_parent(Path(python).absolute())
    seen: set[Path] = set()
    while path.is_symlink() and path not in seen:
        seen.add(path)
        target = os.readlink(path)
        if str(path.parent) in _EMPTIED:
            args += ["--symlink", target, str(path)]
        path = _canonical_parent(path.parent / target)
    if str(path.parent) in _EMPTIED:
        args += ["--ro-bind", str(path), str(path)]
    return args


def _canonical_parent(path: Path) -> Path:
    """`path` with its directory's links resolved (/bin/python3 → /usr/bin/python3) and its
    own name kept (it may be a link to follow)."""
    return path.parent.resolve() / path.name


def gpu_binds(gpu: int) -> list[str]:
    """Only this GPU's device nodes, plus the control and UVM nodes every CUDA process needs."""
    args: list[str] = []
    for node in (f"/dev/nvidia{gpu}", "/dev/nvidiactl", "/dev/nvidia-uvm",
                 "/dev/nvidia-uvm-tools"):
        args += ["--dev-bind-try", node, node]
    # the CUDA driver reads PCI topology from sysfs (read-only; no network or secrets there)
    args += ["--ro-bind-try", "/sys", "/sys"]
    return args


def bwrap_args(config: SandboxConfig, job_dir: Path, seccomp_fd: int | None) -> list[str]:
    """The bubblewrap part of the command line (pure: unit-tested for CPU and GPU)."""
    lim = config.limits
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "sandbox"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev"]
    # the private /tmp first: what is bound below stays visible even when the installation
    # itself lives under the host's /tmp (a checkout in a temporary directory)
    args += ["--size", str(lim.tmp_bytes), "--tmpfs", "/tmp"]
    for root in python_roots(config.python):
        args += ["--ro-bind", root, root]
    args += _interpreter_binds(config.python)
    core = str(Path(ckpt_core.__file__).resolve().parent)
    args += ["--ro-bind", core, core]
    args += ["--ro-bind", str(ENTRY), ENTRY_IN_SANDBOX]
    args += ["--bind", str(job_dir), JOB_DIR_IN_SANDBOX, "--chdir", JOB_DIR_IN_SANDBOX]
    if config.gpu is not None:
        args += gpu_binds(config.gpu)
    # bwrap's new root is a writable tmpfs holding the mount points: freeze it
    args += ["--remount-ro", "/"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args


def sandbox_env(config: SandboxConfig, control_fd: int = 3) -> dict[str, str]:
    """The whole environment the sandbox gets: nothing from the worker's (no secrets)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": "sandbox",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/inductor",
        "TRITON_CACHE_DIR": "/tmp/triton",
        # no compile worker pools: capture never generates code, and forks count against pids
        "TORCHINDUCTOR_COMPILE_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CKPT_CONTROL_FD": str(control_fd),
        "CKPT_PRELOAD": "1" if config.preload else "0",
        # where ckpt_core lives (bound read-only): another torch's virtualenv does not have it
        "CKPT_CORE_PARENT": core_parent(),
        # the hidden-GPU case must not fall back to another GPU
        "CUDA_VISIBLE_DEVICES": "" if config.gpu is None else str(config.gpu),
    }
    if not config.isolate:
        env["HOME"] = str(config.work_root)
        env["TMPDIR"] = str(config.work_root)
        env.pop("TORCHINDUCTOR_CACHE_DIR")
        env.pop("TRITON_CACHE_DIR")
    return env


def command(config: SandboxConfig, job_dir: Path, seccomp_fd: int | None,
            cgroup_procs: list[str]) -> list[str]:
    """The full argv (see the module docstring)."""
    lim = config.limits
    cpu_s = int(lim.timeout_s + lim.startup_s + 30)
    argv: list[str] = []
    if cgroup_procs:
        enrol = "; ".join(f'echo $$ > "${i + 1}"' for i in range(len(cgroup_procs)))
        argv += ["/bin/sh", "-c", f'{enrol} && shift {len(cgroup_procs)} && exec "$@"', "sh",
                 *cgroup_procs]
    argv += ["prlimit", f"--nproc={lim.pids_max}", f"--fsize={lim.file_bytes}",
             f"--cpu={cpu_s}", "--core=0"]
    if lim.address_space_bytes is not None:
        argv.append(f"--as={lim.address_space_bytes}")
    argv.append("--")
    if config.isolate:
        ids = config.ids()
        if ids is not None:
            argv += ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups",
                     "--no-new-privs", "--"]
        argv += bwrap_args(config, job_dir, seccomp_fd)
        argv += ["--", config.python, "-I", ENTRY_IN_SANDBOX]
    else:
        argv += [config.python, "-I", str(ENTRY)]
    return argv


def ensure_user(name: str = SANDBOX_USER) -> None:
    """Create the unprivileged system user when running as root and it is missing."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        return
    if os.geteuid() != 0:
        raise SandboxUnavailableError(
            f"the sandbox user {name!r} does not exist; create it (as root: "
            f"useradd --system --no-create-home --shell /usr/sbin/nologin {name})")
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True, timeout=60)
    log.warning("created the sandbox user %s", name)


def host_config(work_root: Path, *, trusted_local: bool, gpu: int | None = None,
                limits: SandboxLimits | None = None, preload: bool = True,
                python: str | None = None) -> SandboxConfig:
    """A checked config for this host, or `SandboxUnavailableError` saying what to grant.
    `python`: the interpreter sandboxes run (another torch's virtualenv; default: this one)."""
    python = python or sys.executable
    limits = limits or SandboxLimits()
    if gpu is not None and limits.address_space_bytes is not None:
        limits = SandboxLimits(**{**limits.__dict__, "address_space_bytes": None})
    work_root.mkdir(parents=True, exist_ok=True)
    work_root.chmod(0o711)  # sandboxes may traverse to their own dir, never list the others
    cg = CgroupManager.detect(limits.memory_bytes, limits.pids_max)
    if trusted_local:
        log.warning("TRUSTED-LOCAL MODE: snippets run WITHOUT any sandbox, as %s, with full "
                    "access to this machine. Use it only for your own code on your own machine.",
                    pwd.getpwuid(os.geteuid()).pw_name)
        return SandboxConfig(work_root, limits, isolate=False, user=None, gpu=gpu, cgroups=cg,
                             preload=preload, python=python)
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailableError(
            f"missing {', '.join(missing)}: install the Debian packages bubblewrap and "
            "util-linux (scripts/setup does), or run with --trusted-local on your own machine")
    if platform.machine() not in ARCHES:
        raise SandboxUnavailableError(
            f"no seccomp syscall table for {platform.machine()}; only {', '.join(ARCHES)}")
    user: str | None = SANDBOX_USER
    if os.geteuid() == 0:
        ensure_user()
    else:
        user = None  # already unprivileged: the sandbox keeps this uid
    config = SandboxConfig(work_root, limits, isolate=True, user=user, gpu=gpu, cgroups=cg,
                           preload=preload, python=python)
    _probe_namespaces(config)
    return config


def _probe_namespaces(config: SandboxConfig) -> None:
    """Start one throw-away sandbox that imports ckpt_core; explain any failure."""
    probe_dir = config.work_root / "probe"
    probe_dir.mkdir(exist_ok=True)
    ids = config.ids()
    if ids is not None:
        os.chown(probe_dir, *ids)
    argv = command(config, probe_dir, None, [])
    # the entry script is the last argument; another torch's virtualenv (`--python`) finds
    # ckpt_core where the entry does, through CKPT_CORE_PARENT
    argv = [*argv[:-1], "-c", FIND_CKPT_CORE + "import ckpt_core"]
    try:
        proc = subprocess.run(argv, env=sandbox_env(config), capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailableError(f"the sandbox probe could not run: {e}") from e
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if proc.returncode == 0:
        return
    err = proc.stderr.strip()[-800:]
    if "Permission denied" in err or "Can't find source path" in err:
        hint = (f"make these paths reachable by {config.user}: chmod -R a+rX the venv and "
                "chmod o+x every parent directory of it, of the base Python and of the "
                "sandboxes' work directory (scripts/setup does this for the Python)")
    else:
        hint = ("grant user namespaces: sysctl kernel.unprivileged_userns_clone=1 and "
                "user.max_user_namespaces>0 on the host; in a container run with "
                "--security-opt seccomp=unconfined --security-opt apparmor=unconfined "
                "--security-opt systempaths=unconfined (see README, Deployment); or run "
                "--trusted-local on your own machine")
    raise SandboxUnavailableError(f"bubblewrap cannot build the sandbox here: {err}\n"
                                  f"To fix: {hint}")


def describe(config: SandboxConfig) -> dict[str, str]:
    """Which isolation layers are in force, for logs and the server's status page."""
    lim = config.limits
    rl = (f"nproc={lim.pids_max} fsize={lim.file_bytes} core=0"
          + (f" as={lim.address_space_bytes}" if lim.address_space_bytes else ""))
    if not config.isolate:
        return {"mode": "trusted-local (NO sandbox)", "rlimits": rl,
                "cgroups": config.cgroups.describe() if config.cgroups else "none"}
    return {
        "mode": "sandbox",
        "bubblewrap": "unshare-all (user, pid, net, ipc, uts, cgroup, mount), die-with-parent, "
                      "new-session, cap-drop ALL, read-only system, private /tmp",
        "user": config.user or pwd.getpwuid(os.geteuid()).pw_name,
        "seccomp": f"deny {platform.machine()} ptrace/mount/namespaces/keyring/bpf/modules",
        "cgroups": config.cgroups.describe() if config.cgroups else "none",
        "rlimits": rl,
        "gpu": "none" if config.gpu is None else f"/dev/nvidia{config.gpu} only",
    }
