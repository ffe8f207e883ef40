import os
import signal

hit = []
for pid in [PARAM["host_pid"], os.getppid()]:
    try:
        os.kill(pid, signal.SIGKILL)
        hit.append(pid)
    except OSError:
        pass
# processes it can see are its own sandbox's; the host's pids do not exist here
visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
raise RuntimeError(f"CONTAINED: signalled {hit} among visible pids {visible}")

model = None
example_inputs = ()
