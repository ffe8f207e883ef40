import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16
results = []
child = os.fork()
if child == 0:
    import time

    time.sleep(30)
    os._exit(0)
for req, pid in ((PTRACE_ATTACH, child), (PTRACE_ATTACH, os.getppid()), (PTRACE_TRACEME, 0)):
    rc = libc.ptrace(req, pid, None, None)
    results.append((req, rc, ctypes.get_errno()))
os.kill(child, 9)
ok = [r for r in results if r[1] == 0]
raise RuntimeError(f"LEAK: {ok}" if ok else f"CONTAINED: ptrace refused {results}")

model = None
example_inputs = ()
