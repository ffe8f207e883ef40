import sys

line = "x" * 65535 + "\n"
while True:
    sys.stdout.write(line)
    sys.stderr.write(line)

model = None
example_inputs = ()
