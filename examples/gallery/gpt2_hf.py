"""Hugging Face GPT-2 with `gradient_checkpointing_enable()`: each block recomputed in backward.

A 2-layer GPT-2 from a small `GPT2Config` (random weights, nothing downloaded), checkpointed the
way Hugging Face's `Trainer(gradient_checkpointing=True)` does it: every `GPT2Block` runs under
`torch.utils.checkpoint` (non-reentrant). Dropout stays on (0.1, GPT-2's default), so the RNG
state each block needs to replay its dropout masks is saved too. Needs `transformers`.
"""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

config = GPT2Config(vocab_size=256, n_positions=64, n_embd=64, n_layer=2, n_head=4,
                    use_cache=False)
model = GPT2LMHeadModel(config)
model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
model.train()


def example_inputs():
    return (torch.randint(0, config.vocab_size, (2, 32)),)


def loss(output):
    return output.logits.float().pow(2).mean()
