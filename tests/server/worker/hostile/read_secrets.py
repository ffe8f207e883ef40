import os

leaks = []
for path in ["/etc/shadow", "/etc/passwd", "/root/.bashrc", *PARAM["files"]]:
    try:
        with open(path, "rb") as f:
            f.read(1)
        leaks.append(path)
    except OSError:
        pass
# bwrap creates mount-point skeletons (e.g. /root/.pyenv for the interpreter); what must not
# show is any of the host's own entries, which the test lists in PARAM["dirs"]
for d, host_entries in PARAM["dirs"].items():
    try:
        seen = set(os.listdir(d)) & set(host_entries)
    except OSError:
        continue
    if seen:
        leaks.append(f"{d}: {sorted(seen)}")
raise RuntimeError(("LEAK: " + ", ".join(leaks)) if leaks else "CONTAINED: nothing readable")

model = None
example_inputs = ()
