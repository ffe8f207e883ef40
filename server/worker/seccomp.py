"""A seccomp BPF filter, built by hand, that refuses the syscalls a compile never needs.

bubblewrap loads it (`bwrap --seccomp FD`) just before it runs the sandboxed command, so the
snippet can neither trace other processes, nor mount, nor create namespaces, nor touch the kernel
keyring, modules or BPF. Refused calls fail with EPERM (the snippet sees an ordinary error);
`clone3` fails with ENOSYS so that glibc falls back to `clone`, whose flags a filter can inspect.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_X32_SYSCALL_BIT = 0x40000000
#: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
CLONE_NEW_NAMESPACES = 0x7E020000

#: Refused syscalls, by name; the numbers per architecture follow.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "syslog",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "add_key", "request_key", "keyctl",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "userfaultfd", "acct", "swapon", "swapoff", "reboot",
    "sethostname", "setdomainname", "iopl", "ioperm", "open_by_handle_at",
    "name_to_handle_at", "quotactl", "vhangup", "lookup_dcookie",
    # io_uring runs operations that the filter would never see
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)

_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "syslog": 103, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "unshare": 272, "setns": 308, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "add_key": 248,
    "request_key": 249, "keyctl": 250, "kexec_load": 246, "kexec_file_load": 320,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321,
    "perf_event_open": 298, "userfaultfd": 323, "acct": 163, "swapon": 167, "swapoff": 168,
    "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "quotactl": 179, "vhangup": 153,
    "lookup_dcookie": 212, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "clone": 56, "clone3": 435,
}
# asm-generic numbering (no iopl/ioperm on arm64)
_AARCH64 = {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
    "syslog": 116, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97,
    "setns": 268, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "add_key": 217, "request_key": 218,
    "keyctl": 219, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105,
    "finit_module": 273, "delete_module": 106, "bpf": 280, "perf_event_open": 241,
    "userfaultfd": 282, "acct": 89, "swapon": 224, "swapoff": 225, "reboot": 142,
    "sethostname": 161, "setdomainname": 162, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "quotactl": 60, "vhangup": 58, "lookup_dcookie": 18,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "clone": 220,
    "clone3": 435,
}
#: machine name -> (AUDIT_ARCH_*, syscall table, has the x32 ABI)
ARCHES: dict[str, tuple[int, dict[str, int], bool]] = {
    "x86_64": (0xC000003E, _X86_64, True),
    "aarch64": (0xC00000B7, _AARCH64, False),
}


class SeccompUnsupported(RuntimeError):
    """This machine's architecture has no syscall table here."""


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter program as the raw `struct sock_filter[]` bytes that bwrap reads."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise SeccompUnsupported(f"no seccomp syscall table for {machine!r}")
    audit_arch, table, has_x32 = ARCHES[machine]
    denied = [table[name] for name in DENIED if name in table]
    # Layout: header, one JEQ per denied syscall, clone checks, ALLOW, then the return blocks.
    prog: list[tuple[int, int, int, int]] = []
    header = 3 + (1 if has_x32 else 0)
    n_checks = len(denied) + 2  # + clone3, clone
    body_end = header + n_checks  # index of the ALLOW after the checks
    # indices of the tail blocks
    allow_i = body_end
    clone_ld = allow_i + 1      # LD arg0 ; JSET ns -> deny ; RET allow
    deny_i = clone_ld + 3
    enosys_i = deny_i + 1
    kill_i = enosys_i + 1

    def rel(target: int) -> int:
        off = target - (len(prog) + 1)
        if not 0 <= off <= 255:
            raise AssertionError("seccomp jump out of range")
        return off

    prog.append(_insn(_LD_W_ABS, _OFF_ARCH))
    prog.append(_insn(_JEQ_K, audit_arch, 0, rel(kill_i)))
    prog.append(_insn(_LD_W_ABS, _OFF_NR))
    if has_x32:
        prog.append(_insn(_JGE_K, _X32_SYSCALL_BIT, rel(deny_i), 0))
    for nr in denied:
        prog.append(_insn(_JEQ_K, nr, rel(deny_i), 0))
    prog.append(_insn(_JEQ_K, table["clone3"], rel(enosys_i), 0))
    prog.append(_insn(_JEQ_K, table["clone"], rel(clone_ld), 0))
    assert len(prog) == allow_i
    prog.append(_insn(_RET_K, _RET_ALLOW))
    prog.append(_insn(_LD_W_ABS, _OFF_ARG0))  # low 32 bits of the clone flags
    prog.append(_insn(_JSET_K, CLONE_NEW_NAMESPACES, rel(deny_i), 0))
    prog.append(_insn(_RET_K, _RET_ALLOW))
    assert len(prog) == deny_i
    prog.append(_insn(_RET_K, _RET_ERRNO | errno.EPERM))
    prog.append(_insn(_RET_K, _RET_ERRNO | errno.ENOSYS))
    # a foreign architecture's syscall numbers mean something else: kill rather than guess
    prog.append(_insn(_RET_K, _RET_KILL_PROCESS))
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def filter_fd(machine: str | None = None) -> int:
    """A readable fd holding the filter (a pipe, already written and closed for writing)."""
    data = build_filter(machine)
    r, w = os.pipe()
    try:
        os.write(w, data)  # ~500 bytes: well under a pipe's buffer
    finally:
        os.close(w)
    return r
