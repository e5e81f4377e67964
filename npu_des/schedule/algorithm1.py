"""MICRO'23 Algorithm 1 (p.7), literally: which memory access order a layer's backward pass uses.

    1 GEMM in forward pass is X_i(M,K) x W_i(K,N) -> Y_i(M,N)
    2 if AlmostSquareComputation() then          # Max(M,N,K) / Min(M,N,K) < 4  (p.8)
    3     Use Interleaving
    4 else if K > N and K > M then
    5     Use Interleaving+dWmajor
    6 else
    7     Use Interleaving+dXmajor

M, N, K are the forward GEMM's (per group, of the partition when the layer is partitioned); every
inequality is strict, so ties (K == M or K == N with K largest) fall through to dXmajor. The paper's
looser prose rule ("dXmajor when dX is larger than dW") disagrees with lines 4-7 on some shapes; we
follow the lines, which are what its 23.8 % / 10.9 % results come from.
"""

from __future__ import annotations

from npu_des.kinds import Access


def almost_square(m: int, n: int, k: int) -> bool:
    """Max(M,N,K) / Min(M,N,K) < 4, in integers (no rounding at the boundary)."""
    return max(m, n, k) < 4 * min(m, n, k)


def algorithm1(m: int, n: int, k: int) -> Access:
    """The access order Algorithm 1 picks for a forward GEMM X(M,K) . W(K,N)."""
    if almost_square(m, n, k):
        return Access.INTERLEAVING
    if k > n and k > m:
        return Access.DW_MAJOR
    return Access.DX_MAJOR
