"""Transformer encoder/decoder stacks as GEMMs: BERT-base and GPT-2 small.

BERT: Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", NAACL 2019 (base: 12 layers, hidden 768, 12 heads, FFN 3072; 110 M parameters of
which ~85 M in the encoder GEMMs, the rest embeddings). GPT-2: Radford et al., "Language Models are
Unsupervised Multitask Learners", 2019 (small: the same shape, 124 M parameters, context 1024).

Per block, with rows = batch * seq_len tokens: a fused QKV projection (hidden -> 3 hidden), the
attention scores Q.K^T (per sequence and head: seq x head_dim . head_dim x seq), the context
softmax(S).V (seq x seq . seq x head_dim), the output projection, FFN up and FFN down. The score and
context products run once per (sequence, head), hence `groups = batch * heads`. Embedding look-ups,
layer norms, softmax and GELU are not GEMMs and are left out; biases are not counted.

Residual stream: every block adds its attention and FFN outputs to the stream, so (as in ResNet) the
layers reading the stream list every layer that has contributed to it so far. BERT normalises after
the sum and GPT-2 before the branch; the gradient dependencies are the same.
"""

from __future__ import annotations

from npu_des.errors import ConfigError
from npu_des.workload import Layer, Workload, linear, matmul


def _blocks(batch: int, seq_len: int, hidden: int, heads: int, ffn: int,
            depth: int) -> tuple[list[Layer], tuple[str, ...]]:
    """`depth` blocks and the layers summed into the final stream; the first block reads the
    embeddings, which are not a layer, so it has no input gradient."""
    if hidden % heads:
        raise ConfigError(f"hidden size {hidden} must divide by the number of heads {heads}",
                          source="transformer", field="heads")
    rows, head_dim, groups = batch * seq_len, hidden // heads, batch * heads
    layers: list[Layer] = []
    stream: tuple[str, ...] = ()
    for block in range(depth):
        prefix = f"layer{block}"
        qkv = linear(f"{prefix}.qkv", stream, hidden, 3 * hidden, rows=rows)
        scores = matmul(f"{prefix}.scores", (qkv.name,), seq_len, head_dim, seq_len, groups=groups)
        context = matmul(f"{prefix}.context", (scores.name, qkv.name), seq_len, seq_len, head_dim,
                         groups=groups)
        attn_out = linear(f"{prefix}.attn_out", (context.name,), hidden, hidden, rows=rows)
        stream = (attn_out.name, *stream)
        ffn_up = linear(f"{prefix}.ffn_up", stream, hidden, ffn, rows=rows)
        ffn_down = linear(f"{prefix}.ffn_down", (ffn_up.name,), ffn, hidden, rows=rows)
        stream = (ffn_down.name, *stream)
        layers += [qkv, scores, context, attn_out, ffn_up, ffn_down]
    return layers, stream


def bert_base(batch: int = 1, seq_len: int = 128) -> Workload:
    """BERT-base encoder stack: ~11.2 G MACs per 128-token sequence, 84.9 M weights."""
    layers, _ = _blocks(batch, seq_len, 768, 12, 3072, 12)
    return Workload("bert_base", tuple(layers))


def gpt2_small(batch: int = 1, seq_len: int = 1024, lm_head: bool = True, vocab: int = 50257) -> Workload:
    """GPT-2 small decoder stack plus the LM head (hidden -> vocab logits; its weights are tied to the
    token embedding, so 84.9 M + 38.6 M = 123.5 M weights, the 124 M published less position embeddings).

    Causal masking does not change the GEMM shapes: the full seq x seq scores are computed and masked.
    """
    layers, stream = _blocks(batch, seq_len, 768, 12, 3072, 12)
    if lm_head:
        layers.append(linear("lm_head", stream, 768, vocab, rows=batch * seq_len))
    return Workload("gpt2_small", tuple(layers))
