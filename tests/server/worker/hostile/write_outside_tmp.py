
wrote = []
for path in ["/usr/pwned", "/etc/pwned", "/opt/ckpt/entry.py", "/pwned", "/proc/pwned",
             *PARAM["paths"]]:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        wrote.append(path)
    except OSError:
        pass
with open("/tmp/fine", "w") as f:  # its own /tmp and /job are writable, and private
    f.write("ok")
with open("/job/fine", "w") as f:
    f.write("ok")
raise RuntimeError(("LEAK: " + ", ".join(wrote)) if wrote else "CONTAINED: read-only outside")

model = None
example_inputs = ()
