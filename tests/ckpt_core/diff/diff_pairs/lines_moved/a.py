"""A 2-block residual MLP, each block checkpointed with torch.utils.checkpoint."""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        h = self.fc1(self.norm(x))
        return x + self.fc2(torch.relu(h))


class Net(nn.Module):
    def __init__(self, dim=16, layers=2):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim) for _ in range(layers))
        self.head = nn.Linear(dim, 4)

    def forward(self, x):
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return self.head(x)


model = Net()


def example_inputs():
    return (torch.randn(4, 16),)
