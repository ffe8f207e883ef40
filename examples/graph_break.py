"""A model with a graph break: dynamo compiles two regions around the `print`.

With `fullgraph=False` (the default) each region is captured and the break is reported with
dynamo's reason; with `--fullgraph` the break is an error.
"""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, dim: int = 32):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        print("between the two regions")  # dynamo cannot trace print: a graph break
        return self.fc2(h).sigmoid()


model = Net()
example_inputs = (torch.randn(8, 32),)
