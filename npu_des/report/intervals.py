"""Interval arithmetic on numpy arrays, for drawing 20k-event timelines at pixel resolution.

A whole-network timeline has far more events than a chart has pixels, so plots merge what a pixel
cannot separate and bin what they summarise; these helpers do it vectorised, with no per-event loop.
"""

from __future__ import annotations

import numpy as np


def merge_intervals(starts: np.ndarray, ends: np.ndarray, gap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals, also joining neighbours closer than `gap` (one pixel, when drawing)."""
    if starts.size == 0:
        return starts.astype(np.float64), ends.astype(np.float64)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    opens_group = np.empty(starts.size, dtype=bool)
    opens_group[0] = True
    opens_group[1:] = starts[1:] > reach[:-1] + gap
    first = np.flatnonzero(opens_group)
    return starts[first], np.maximum.reduceat(ends, first)


def coverage_per_bin(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of each bin [edges[i], edges[i+1]) covered by the union of the intervals."""
    starts, ends = merge_intervals(starts, ends)
    if starts.size == 0:
        return np.zeros(edges.size - 1)
    # Covered time up to t is piecewise linear with breakpoints at the (disjoint, sorted) starts and ends.
    points = np.column_stack((starts, ends)).ravel()
    covered = np.column_stack((np.concatenate(([0.0], np.cumsum(ends - starts)[:-1])),
                               np.cumsum(ends - starts))).ravel()
    cumulative = np.interp(edges, points, covered)
    return np.diff(cumulative) / np.diff(edges)


def step_envelope(cycles: np.ndarray, values: np.ndarray, start: float, end: float,
                  bins: int) -> tuple[np.ndarray, np.ndarray]:
    """A step curve (value holds until the next change) on [start, end] as x, y for a 'post' step plot.

    With more change points than `bins`, each bin shows its maximum, so no peak vanishes when downsampled.
    """
    def value_at(times: np.ndarray) -> np.ndarray:
        if values.size == 0:
            return np.zeros(times.size, dtype=np.int64)
        index = np.searchsorted(cycles, times, side="right") - 1
        return np.where(index >= 0, values[np.clip(index, 0, None)], 0)

    inside = (cycles > start) & (cycles < end)
    if np.count_nonzero(inside) <= bins:
        x = np.concatenate(([start], cycles[inside], [end]))
        y = np.concatenate((value_at(np.array([start])), values[inside]))
        return x, np.append(y, y[-1]).astype(np.int64)
    edges = np.linspace(start, end, bins + 1)
    peak = value_at(edges[:-1]).astype(np.int64)
    which = np.minimum(((cycles[inside] - start) / (end - start) * bins).astype(np.int64), bins - 1)
    np.maximum.at(peak, which, values[inside].astype(np.int64))
    return edges, np.append(peak, peak[-1])
