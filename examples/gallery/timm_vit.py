"""A timm Vision Transformer with `set_grad_checkpointing()`.

A tiny `VisionTransformer` (4 blocks, width 64, 32×32 images in 8×8 patches; random weights,
nothing downloaded) whose blocks timm runs under `torch.utils.checkpoint`. Needs `timm`, and
timm needs a `torchvision` built for the installed torch.
"""

import torch
from timm.models.vision_transformer import VisionTransformer

model = VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=4, num_heads=4,
                          num_classes=10)
model.set_grad_checkpointing(True)
model.train()


def example_inputs():
    return (torch.randn(2, 3, 32, 32),)
