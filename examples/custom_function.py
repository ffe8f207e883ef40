"""A custom `autograd.Function` inside a checkpointed region.

Its forward saves what it needs with `ctx.save_for_backward`; under checkpointing those values
are recomputed like any other op of the region.
"""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class ScaledSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x * ctx.scale, None


class Net(nn.Module):
    def __init__(self, dim: int = 32):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def region(self, x):
        return self.fc2(ScaledSquare.apply(self.fc1(x), 0.5))

    def forward(self, x):
        return checkpoint(self.region, x, use_reentrant=False)


model = Net()
example_inputs = (torch.randn(8, 32),)
