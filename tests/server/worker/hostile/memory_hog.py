hog = []
while True:
    hog.append(b"x" * (64 << 20))  # touched pages, not a lazy zero mapping

model = None
example_inputs = ()
