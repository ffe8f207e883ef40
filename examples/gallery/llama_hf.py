"""Hugging Face Llama (SDPA attention) with `gradient_checkpointing_enable()`.

A 2-layer Llama from a small `LlamaConfig` with grouped-query attention (4 query heads, 2
key/value heads), RMSNorm, rotary embeddings and a SwiGLU MLP; random weights, nothing
downloaded. Every decoder layer runs under non-reentrant `torch.utils.checkpoint`, as
`Trainer(gradient_checkpointing=True)` sets it up. Set `attn_implementation="eager"` to see the
attention matmuls and softmax instead of one SDPA op. Needs `transformers`.
"""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128,
                     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     max_position_embeddings=64, use_cache=False,
                     attn_implementation="sdpa")
model = LlamaForCausalLM(config)
model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
model.train()


def example_inputs():
    return (torch.randint(0, config.vocab_size, (2, 32)),)


def loss(output):
    return output.logits.float().pow(2).mean()
