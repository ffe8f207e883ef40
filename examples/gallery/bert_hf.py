"""Hugging Face BERT (masked LM) with `gradient_checkpointing_enable()`.

A 2-layer BERT encoder from a small `BertConfig` (random weights, nothing downloaded) with its
masked-LM head; every `BertLayer` runs under non-reentrant `torch.utils.checkpoint`. Attention
and hidden dropout stay at BERT's 0.1, so each layer's RNG state is saved for the replay.
Needs `transformers`.
"""

import torch
from transformers import BertConfig, BertForMaskedLM

config = BertConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=64)
model = BertForMaskedLM(config)
model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
model.train()


def example_inputs():
    ids = torch.randint(0, config.vocab_size, (2, 32))
    return (ids, torch.ones_like(ids))  # input_ids, attention_mask


def loss(output):
    return output.logits.float().pow(2).mean()
