"""Two checkpointed regions with an op between them.

The op between the regions is not checkpointed: its output, the second region's input, is saved,
while each region's own ops are recomputed from the region's saved input.
"""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class TwoRegions(nn.Module):
    def __init__(self, dim: int = 32):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))
        self.b = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))

    def forward(self, x):
        h = checkpoint(self.a, x, use_reentrant=False)
        h = h.sin() * 2
        return checkpoint(self.b, h, use_reentrant=False)


model = TwoRegions()
example_inputs = (torch.randn(16, 32),)
