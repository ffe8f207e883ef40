"""Dropout inside a checkpointed region: the recompute must replay the same random mask.

torch.compile saves the RNG state in forward (`run_and_save_rng_state`) and replays it in
backward (`run_with_rng_state`) so the recomputed dropout matches.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class Net(nn.Module):
    def __init__(self, dim: int = 32):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def region(self, x):
        return self.fc2(F.dropout(torch.relu(self.fc1(x)), p=0.5, training=True))

    def forward(self, x):
        return checkpoint(self.region, x, use_reentrant=False).sum(dim=-1)


model = Net()
example_inputs = (torch.randn(8, 32),)
