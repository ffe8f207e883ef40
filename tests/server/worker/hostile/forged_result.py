import json
import os
import sys

forged = {"kind": "result", "result": {"schema_version": 1, "forged": True}}
print(json.dumps(forged), flush=True)
sys.stderr.write(json.dumps(forged) + "\n")
sys.stderr.flush()
os._exit(0)

model = None
example_inputs = ()
