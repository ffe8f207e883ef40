import contextlib
import os
import subprocess

ran = []
for argv in (["/bin/sh", "-c", "id"], ["sh", "-c", "id"], ["bash"], ["/usr/bin/env"]):
    try:
        subprocess.run(argv, capture_output=True, timeout=5)
        ran.append(argv[0])
    except OSError:
        pass
with contextlib.suppress(OSError):
    os.execv("/bin/sh", ["sh"])
raise RuntimeError(f"LEAK: ran {ran}" if ran else "CONTAINED: no shell to run")

model = None
example_inputs = ()
