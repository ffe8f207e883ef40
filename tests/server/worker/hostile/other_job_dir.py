import contextlib
import os

seen = []
for d in PARAM["dirs"]:
    with contextlib.suppress(OSError):
        seen.append(f"{d}: {os.listdir(d)}")
mine = os.listdir("/job")
raise RuntimeError(("LEAK: " + "; ".join(seen)) if seen else f"CONTAINED: only /job {mine}")

model = None
example_inputs = ()
