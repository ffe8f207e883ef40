"""A decoder trained the Hugging Face way: `use_cache=True` with gradient checkpointing logs a
warning inside the model, and dynamo breaks the graph at that logging call.

The first compiled region computes the hidden states; the second (norm and LM head) keeps the
hidden state it was handed for its backward. That tensor is an activation of the program, made
by region 0 and kept by region 1: the headline counts it once, the saved ledger lists it as a
`handover`. Set `dynamo_config.ignore_logging_functions=["logging.Logger.warning"]` (dynamo's
own hint) to compile one region instead.
"""

import logging

import torch
from torch import nn

logger = logging.getLogger("transformers.modeling_decoder")


class Decoder(nn.Module):
    def __init__(self, vocab: int = 128, dim: int = 64, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.gradient_checkpointing = True

    def forward(self, ids, use_cache=True):
        h = self.embed(ids)
        for layer in self.layers:
            h = h + layer(h)
        if self.gradient_checkpointing and self.training and use_cache:
            logger.warning("`use_cache=True` is incompatible with gradient checkpointing.")
        return self.lm_head(self.norm(h))


model = Decoder()
example_inputs = (torch.randint(0, 128, (4, 32)),)
