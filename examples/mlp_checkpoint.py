"""An MLP whose hidden block runs under plain activation checkpointing.

`torch.utils.checkpoint.checkpoint` without a policy tags every op in the region
PREFER_RECOMPUTE: torch.compile saves the region's input and recomputes the rest in backward.
"""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class MLP(nn.Module):
    def __init__(self, dim: int = 64, hidden: int = 256):
        super().__init__()
        self.inp = nn.Linear(dim, hidden)
        self.block = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU()
        )
        self.out = nn.Linear(hidden, dim)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = checkpoint(self.block, h, use_reentrant=False)
        return self.out(h)


model = MLP()


def example_inputs():
    return (torch.randn(32, 64),)
