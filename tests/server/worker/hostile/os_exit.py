import os

os._exit(3)

model = None
example_inputs = ()
