"""BERT encoders beyond base: BERT-large, BERT-tiny and TinyBERT-4 (the encoder stacks of transformer.py).

BERT-large: Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", NAACL 2019: L = 24 layers, H = 1024, A = 16 heads, FFN 4H = 4096; 340 M parameters
published (the released bert-large-uncased checkpoint holds 335.1 M: 31.8 M embeddings, 302.3 M
in the encoder, 1.0 M pooler).
BERT-tiny: Turc et al., "Well-Read Students Learn Better: On the Importance of Pre-training Compact
Models", 2019, the smallest of its 24 compact BERTs: L = 2, H = 128, A = 2, FFN 512; 4.4 M parameters,
of which 4.0 M are embeddings.
TinyBERT-4: Jiao et al., "TinyBERT: Distilling BERT for Natural Language Understanding", Findings of
EMNLP 2020: L = 4, H = 312, A = 12, FFN 1200; 14.5 M parameters. MICRO'23's Table 4 lists its small
BERT at 14 M parameters, which is this model, not Turc et al.'s 4.4 M BERT-tiny.

Sequence length: the MICRO'23 paper does not state one; the default 128 is BERT's pre-training length
for 90% of the steps (Devlin et al., appendix A.2), as for `bert_base`.

Omitted (not GEMMs, see transformer.py): token/position/segment embeddings (their look-ups feed the
first block, which therefore has no input gradient), layer norms, softmax, GELU, biases; also the
pooler and the pre-training heads (masked-LM and next-sentence), as for `bert_base`.
"""

from __future__ import annotations

from npu_des.models.transformer import _blocks
from npu_des.workload import Workload

BERT_VOCAB, BERT_POSITIONS, BERT_SEGMENTS = 30522, 512, 2  # uncased WordPiece vocabulary, max positions


def bert_embedding_parameters(hidden: int) -> int:
    """Token, position and segment embedding weights (not in the Workload: they are look-ups, not GEMMs)."""
    return (BERT_VOCAB + BERT_POSITIONS + BERT_SEGMENTS) * hidden


def bert_large(batch: int = 1, seq_len: int = 128) -> Workload:
    """BERT-large encoder stack: 302.0 M GEMM weights (24 x 12 H^2), ~39.5 G MACs per 128-token sequence."""
    layers, _ = _blocks(batch, seq_len, 1024, 16, 4096, 24)
    return Workload("bert_large", tuple(layers))


def bert_tiny(batch: int = 1, seq_len: int = 128) -> Workload:
    """BERT-tiny (Turc et al.) encoder stack: 0.39 M GEMM weights, ~59 M MACs per 128-token sequence."""
    layers, _ = _blocks(batch, seq_len, 128, 2, 512, 2)
    return Workload("bert_tiny", tuple(layers))


def tinybert_4(batch: int = 1, seq_len: int = 128) -> Workload:
    """TinyBERT-4 encoder stack: 4.55 M GEMM weights, ~0.62 G MACs per 128-token sequence."""
    layers, _ = _blocks(batch, seq_len, 312, 12, 1200, 4)
    return Workload("tinybert_4", tuple(layers))
