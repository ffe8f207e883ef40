"""Llama-3-8B at 4k on an H100, op-level SAC: a full-size plan from fake tensors, no GPU needed.

Run it with `--execution fake --cost-profile h100`: the 8B parameters (16 GB in bf16) and
every activation are fake tensors, which carry shape, dtype and device but no memory, so the
whole analysis (graphs, saved set, bytes, timeline, the recompute time estimated for an H100)
comes from shapes alone, on a CPU worker. 32 decoder blocks (hidden 4096, 32 query heads
sharing 8 KV heads, SwiGLU MLP 14336, RoPE, RMSNorm), sequence 4096, bf16, each block
checkpointed with a torchtitan-style op-level SAC policy: matmuls and attention are saved,
everything else is recomputed. Change `CONFIG` for another size (the 70B shape: layers=80,
dim=8192, mlp=28672, heads=64). Device 'cuda' follows CUDA's op choices (flash attention, bf16
kernels) without a GPU where torch is a CUDA build; a CPU-only torch analyses with the CPU's.
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import (
    CheckpointPolicy,
    checkpoint,
    create_selective_checkpoint_contexts,
)


@dataclass(frozen=True)
class Config:
    layers: int = 32
    dim: int = 4096
    heads: int = 32
    kv_heads: int = 8
    mlp: int = 14336
    vocab: int = 128256
    seq: int = 4096
    batch: int = 1
    rope_theta: float = 500000.0


CONFIG = Config()
#: "sac": op-level selective checkpointing; "block": plain per-block checkpoint
CHECKPOINT = "sac"

aten = torch.ops.aten
SAVE = {
    aten.mm.default,
    aten.addmm.default,
    aten.bmm.default,
    aten._scaled_dot_product_flash_attention.default,
    aten._scaled_dot_product_efficient_attention.default,
    aten._scaled_dot_product_cudnn_attention.default,
    aten._scaled_dot_product_flash_attention_for_cpu.default,
}


def policy(ctx, op, *args, **kwargs):
    return CheckpointPolicy.MUST_SAVE if op in SAVE else CheckpointPolicy.PREFER_RECOMPUTE


def rope_tables(cfg):
    half = cfg.dim // cfg.heads // 2
    freqs = 1.0 / cfg.rope_theta ** (torch.arange(half, dtype=torch.float32) / half)
    angles = torch.outer(torch.arange(cfg.seq, dtype=torch.float32), freqs)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    a, b = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    return out.type_as(x)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * self.weight.float()).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = cfg.heads, cfg.kv_heads, cfg.dim // cfg.heads
        self.wq = nn.Linear(cfg.dim, cfg.heads * self.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(cfg.heads * self.head_dim, cfg.dim, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.heads, self.head_dim)
        k = self.wk(x).view(b, t, self.kv_heads, self.head_dim)
        v = self.wv(x).view(b, t, self.kv_heads, self.head_dim)
        cos, sin = cos[:, None, :], sin[:, None, :]
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return self.wo(y.transpose(1, 2).reshape(b, t, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.mlp, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.mlp, bias=False)
        self.w2 = nn.Linear(cfg.mlp, cfg.dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x, cos, sin):
        h = x + self.attention(self.attention_norm(x), cos, sin)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok_embeddings = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim)
        self.output = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        cos, sin = rope_tables(cfg)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, tokens, labels):
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            if CHECKPOINT == "sac":
                context = functools.partial(create_selective_checkpoint_contexts, policy)
                h = checkpoint(layer, h, self.cos, self.sin, use_reentrant=False,
                               context_fn=context)
            else:
                h = checkpoint(layer, h, self.cos, self.sin, use_reentrant=False)
        logits = self.output(self.norm(h))
        return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten())


# bf16 weights, as Llama 3 trains; the RoPE tables stay fp32
model = Llama(CONFIG).to(torch.bfloat16)
model.cos, model.sin = model.cos.float(), model.sin.float()


def example_inputs():
    tokens = torch.randint(0, CONFIG.vocab, (CONFIG.batch, CONFIG.seq))
    labels = torch.randint(0, CONFIG.vocab, (CONFIG.batch, CONFIG.seq))
    return (tokens, labels)
