import ctypes
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # a recognisable name, so the test can look for it on the host afterwards
        ctypes.CDLL(None).prctl(15, b"ckpt-daemon", 0, 0, 0)  # PR_SET_NAME
        while True:
            time.sleep(1)
    os._exit(0)
time.sleep(0.5)
raise RuntimeError("CONTAINED: left a daemon behind")

model = None
example_inputs = ()
