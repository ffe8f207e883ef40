import ctypes

ctypes.string_at(0)

model = None
example_inputs = ()
