"""T5 encoder-decoder as GEMMs: t5-small and t5-large.

Raffel et al., "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer",
JMLR 2020, the original (v1.0) checkpoints' configurations: t5-small d_model 512, d_ff 2048, 6 encoder
+ 6 decoder layers, 8 heads of d_kv 64; t5-large d_model 1024, d_ff 4096, 24 + 24 layers, 16 heads of
d_kv 64; ReLU feed-forward, no biases, a 32128-token vocabulary whose embedding matrix is shared by
the encoder, the decoder and the output layer. Published sizes: "60 million" and "770 million"; the
released t5-large checkpoint holds 737.7 M trainable parameters (google-research/text-to-text-
transfer-transformer issue #326, where the first author answers that 770 M "could just be a typo";
770 M is what the count would be with an output layer untied from the embedding), t5-small 60.5 M.

Per encoder block (rows = batch x seq_len): fused Q/K/V projection, scores Q.K^T and context
softmax(S).V once per (sequence, head), output projection, FFN in (wi) and out (wo). Per decoder block
(rows = batch x target_len): causal self-attention (the same GEMMs; masking does not change shapes),
cross-attention, FFN. Cross-attention projects Q from the decoder stream and K/V from the encoder
output, so every decoder block's `cross_kv` layer reads the encoder's final stream (a dependency edge
from all encoder blocks to each decoder block) and runs on batch x seq_len rows; its scores are
target_len x d_kv . d_kv x seq_len. The LM head maps the decoder stream to vocabulary logits; its
weights are the tied embedding matrix, so `Workload.parameters` counts that matrix once.

Sequence lengths: the MICRO'23 paper does not state them. Defaults follow T5's pre-training: inputs
of 512 tokens (Raffel et al., Sec. 3.1.2), and 114 target tokens, the length the final span-corruption
objective (15% of tokens corrupted, mean span 3; Secs. 3.3.4 and 3.7) gives for 512-token inputs:
568 raw tokens, 85 of them noise in 28 spans; targets are the noise plus a sentinel per span and EOS.

Omitted (not GEMMs): the embedding look-ups (the first encoder and decoder blocks read embeddings,
so they have no input gradient), RMS layer norms, softmax, ReLU, the relative position bias added to
the scores, dropout and the loss.
"""

from __future__ import annotations

from typing import NamedTuple

from npu_des.workload import Layer, Workload, linear, matmul

T5_VOCAB = 32128


class T5Config(NamedTuple):
    """The architectural fields of a T5 checkpoint's config (the names used by its config.json)."""

    d_model: int
    d_ff: int
    num_layers: int  # per stack: encoder and decoder have as many
    num_heads: int
    d_kv: int


T5_SMALL = T5Config(d_model=512, d_ff=2048, num_layers=6, num_heads=8, d_kv=64)
T5_LARGE = T5Config(d_model=1024, d_ff=4096, num_layers=24, num_heads=16, d_kv=64)


def _self_attention(prefix: str, stream: tuple[str, ...], batch: int, tokens: int,
                    config: T5Config) -> list[Layer]:
    inner, groups = config.num_heads * config.d_kv, batch * config.num_heads
    qkv = linear(f"{prefix}.qkv", stream, config.d_model, 3 * inner, rows=batch * tokens)
    scores = matmul(f"{prefix}.scores", (qkv.name,), tokens, config.d_kv, tokens, groups=groups)
    context = matmul(f"{prefix}.context", (scores.name, qkv.name), tokens, tokens, config.d_kv, groups=groups)
    out = linear(f"{prefix}.out", (context.name,), inner, config.d_model, rows=batch * tokens)
    return [qkv, scores, context, out]


def _feed_forward(prefix: str, stream: tuple[str, ...], rows: int, config: T5Config) -> list[Layer]:
    wi = linear(f"{prefix}.wi", stream, config.d_model, config.d_ff, rows=rows)
    wo = linear(f"{prefix}.wo", (wi.name,), config.d_ff, config.d_model, rows=rows)
    return [wi, wo]


def t5(config: T5Config, batch: int = 1, seq_len: int = 512, target_len: int = 114, lm_head: bool = True,
       name: str = "t5") -> Workload:
    """Encoder (seq_len tokens) and decoder (target_len tokens) stacks of `config`, plus the LM head."""
    layers: list[Layer] = []
    stream: tuple[str, ...] = ()
    for block in range(config.num_layers):
        prefix = f"encoder{block}"
        attention = _self_attention(f"{prefix}.self", stream, batch, seq_len, config)
        stream = (attention[-1].name, *stream)
        ffn = _feed_forward(f"{prefix}.ffn", stream, batch * seq_len, config)
        stream = (ffn[-1].name, *stream)
        layers += attention + ffn
    encoder_output = stream
    inner, groups, rows = config.num_heads * config.d_kv, batch * config.num_heads, batch * target_len
    stream = ()
    for block in range(config.num_layers):
        prefix = f"decoder{block}"
        attention = _self_attention(f"{prefix}.self", stream, batch, target_len, config)
        stream = (attention[-1].name, *stream)
        query = linear(f"{prefix}.cross_q", stream, config.d_model, inner, rows=rows)
        key_value = linear(f"{prefix}.cross_kv", encoder_output, config.d_model, 2 * inner,
                           rows=batch * seq_len)
        scores = matmul(f"{prefix}.cross_scores", (query.name, key_value.name), target_len, config.d_kv,
                        seq_len, groups=groups)
        context = matmul(f"{prefix}.cross_context", (scores.name, key_value.name), target_len, seq_len,
                         config.d_kv, groups=groups)
        out = linear(f"{prefix}.cross_out", (context.name,), inner, config.d_model, rows=rows)
        stream = (out.name, *stream)
        ffn = _feed_forward(f"{prefix}.ffn", stream, rows, config)
        stream = (ffn[-1].name, *stream)
        layers += [*attention, query, key_value, scores, context, out, *ffn]
    if lm_head:
        layers.append(linear("lm_head", stream, config.d_model, T5_VOCAB, rows=rows))
    return Workload(name, tuple(layers))


def t5_small(batch: int = 1, seq_len: int = 512, target_len: int = 114, lm_head: bool = True) -> Workload:
    """t5-small: 44.0 M block weights + 16.4 M tied embedding/LM head = 60.5 M (published 60 M)."""
    return t5(T5_SMALL, batch, seq_len, target_len, lm_head, "t5_small")


def t5_large(batch: int = 1, seq_len: int = 512, target_len: int = 114, lm_head: bool = True) -> Workload:
    """t5-large: 704.6 M block weights + 32.9 M tied embedding/LM head = 737.5 M (checkpoint 737.7 M)."""
    return t5(T5_LARGE, batch, seq_len, target_len, lm_head, "t5_large")
