while True:
    pass

model = None
example_inputs = ()
