"""A plain MLP with no checkpointing: analyse it with `--memory-budget 0.5`.

Under a memory budget below 1 the min-cut partitioner itself chooses what to recompute; those
recomputes carry no `recompute` tag, only their name and partitioner tag identify them.
"""

import torch
from torch import nn

model = nn.Sequential(
    nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(),
    nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 64),
)
example_inputs = (torch.randn(16, 64),)
