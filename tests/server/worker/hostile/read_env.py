import os

found = [k for k, v in os.environ.items() if PARAM["secret"] in v or k == PARAM["var"]]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if PARAM["secret"].encode() in f.read():
                    found.append(f"/proc/{pid}/environ")
        except OSError:
            pass
try:
    with open(f"/proc/{PARAM['host_pid']}/environ", "rb") as f:
        found.append("host pid environ") if PARAM["secret"].encode() in f.read() else None
except OSError:
    pass
raise RuntimeError(("LEAK: " + ", ".join(found)) if found else "CONTAINED: no secret in sight")

model = None
example_inputs = ()
