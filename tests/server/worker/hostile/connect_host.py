import socket

got = []
try:
    with socket.create_connection(("127.0.0.1", PARAM["port"]), timeout=2) as s:
        got.append(s.recv(64))
except OSError as e:
    refused = f"{type(e).__name__}"
with open("/proc/net/dev") as f:
    ifaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
if got or ifaces != ["lo"]:
    raise RuntimeError(f"LEAK: got {got}, interfaces {ifaces}")
raise RuntimeError(f"CONTAINED: {refused}; interfaces {ifaces}")

model = None
example_inputs = ()
