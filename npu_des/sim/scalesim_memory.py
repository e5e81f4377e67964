"""SCALE-Sim 3.0.0's memory model for one GEMM op, re-implemented with numpy (docs/scalesim.md).

SCALE-Sim streams each operand *matrix* (the im2col-expanded ifmap, the filter, the ofmap) through
its own double-buffered SRAM with its own DRAM port:
- read buffers (ifmap, filter): the operand's fetch stream (fold by fold, diagonally rolled out for
  the skewed operands) is cut into sets of ceil(size/100) entries; an active window of
  ceil(A/eps) sets (A = half the SRAM) moves forward over the stream, ceil(P/eps) sets per refill,
  circularly, whenever the array demands an address that no set in the window holds. DRAM reads =
  whole `bw`-word lines of the first fill and of every refill. Refill k completes at
  k * (ceil(P/bw) + 1) - 1, chained to the previous one; a demand line that needs it waits.
- write buffer (ofmap): every ofmap demand element is stored; when more than half is held a
  drain of up to ceil(D/bw) lines starts; a full buffer during a drain stalls the line.
- per demand line the three ports' stalls overlap (max); Total Cycles = lines - 1 + stalls.

The window only depends on the address sequence, so refills are found by walking the demand in
numpy chunks (each chunk tested against the window at once); the timing loop then visits only the
lines with a refill or a write-buffer event. Numbers equal the real package's on the validation
layers committed under tests/data/scalesim (DRAM bytes per operand, stalls, Total Cycles).
Words are bytes (SCALE-Sim hard-codes 1-byte words).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import ceil

import numpy as np

Matrix = np.ndarray  # int64 addresses, -1 where SCALE-Sim's operand matrix has no element
CHUNK = 1 << 14  # demand elements tested against the window at once (doubles while nothing misses)


@dataclass(frozen=True)
class OperandMatrices:
    """The three operand matrices of a GEMM op as SCALE-Sim builds them: ifmap M x K, filter K x N,
    ofmap M x N (addresses; the ifmap of a conv is im2col-expanded, so an address repeats)."""

    ifmap: Matrix
    filter: Matrix
    ofmap: Matrix
    ifmap_addresses: int  # size of the ifmap address space
    ifmap_unique: bool  # every ifmap address appears at most once (no im2col duplicates)

    @property
    def mnk(self) -> tuple[int, int, int]:
        return self.ifmap.shape[0], self.filter.shape[1], self.ifmap.shape[1]


def gemm_operands(m: int, n: int, k: int) -> OperandMatrices:
    """A GEMM op (SCALE-Sim's `-i gemm` rows): dense unique addresses."""
    ifmap = np.arange(m * k, dtype=np.int64).reshape(m, k)
    filt = np.arange(k * n, dtype=np.int64).reshape(n, k).T
    ofmap = np.arange(m * n, dtype=np.int64).reshape(m, n)
    return OperandMatrices(ifmap, filt, ofmap, m * k, True)


def conv_ifmap(height: int, width: int, kernel_h: int, kernel_w: int, channels: int, stride: int,
               out_h: int, out_w: int, images: int = 1) -> Matrix:
    """SCALE-Sim's im2col ifmap (HWC layout, images stacked), -1 where a window hangs over the edge."""
    m = np.arange(images * out_h * out_w)[:, None]
    image, pixel = np.divmod(m, out_h * out_w)
    row, col = np.divmod(pixel, out_w)
    k = np.arange(kernel_h * kernel_w * channels)[None, :]
    kr, rest = np.divmod(k, kernel_w * channels)
    kc, ch = np.divmod(rest, channels)
    in_row, in_col = row * stride + kr, col * stride + kc
    address = ((image * height + in_row) * width + in_col) * channels + ch
    return np.where((in_row < height) & (in_col < width), address, -1).astype(np.int64)


def conv_operands(height: int, width: int, kernel_h: int, kernel_w: int, channels: int, filters: int,
                  stride: int, images: int = 1) -> OperandMatrices:
    """A conv layer as SCALE-Sim reads it (no padding; output ceil((H - R + s) / s))."""
    out_h, out_w = ceil((height - kernel_h + stride) / stride), ceil((width - kernel_w + stride) / stride)
    ifmap = conv_ifmap(height, width, kernel_h, kernel_w, channels, stride, out_h, out_w, images)
    m, k = ifmap.shape
    filt = np.arange(k * filters, dtype=np.int64).reshape(filters, k).T
    ofmap = np.arange(m * filters, dtype=np.int64).reshape(m, filters)
    return OperandMatrices(ifmap, filt, ofmap, images * height * width * channels, kernel_h * kernel_w == 1)


@dataclass(frozen=True)
class Ports:
    """SCALE-Sim's memory hardware: three SRAM sizes (KB) and the words/cycle of their DRAM ports."""

    ifmap_kb: float
    filter_kb: float
    ofmap_kb: float
    ifmap_bandwidth: int
    filter_bandwidth: int
    ofmap_bandwidth: int


@dataclass(frozen=True)
class OpTraffic:
    """What SCALE-Sim reports for one GEMM op: DRAM words (= bytes) per operand and cycles."""

    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    compute_cycles: int  # folds * per-fold rows - 1
    stall_cycles: int

    @property
    def total_cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles


# ------------------------------------------------------------------ fetch streams and demand order


def _stacked(matrix: Matrix, width: int) -> Matrix:
    """SCALE-Sim's pad_c: the columns in chunks of `width` (the last padded with -1), stacked."""
    rows, cols = matrix.shape
    chunks = ceil(cols / width)
    padded = np.full((rows, chunks * width), -1, dtype=np.int64)
    padded[:, :cols] = matrix
    return padded.reshape(rows, chunks, width).transpose(1, 0, 2).reshape(chunks * rows, width)


def _rolled_out(matrix: Matrix) -> Matrix:
    """Entries by diagonal r + c, then column: SCALE-Sim's diagonal roll-out, placed without sorting."""
    rows, width = matrix.shape
    r, c = np.indices((rows, width))
    slots = np.full((rows + width) * width, -2, dtype=np.int64)
    slots[((r + c) * width + c).ravel()] = matrix.ravel()
    return slots[slots != -2]


def fetch_streams(operands: OperandMatrices, dataflow: str, rows: int, cols: int) -> tuple[Matrix, Matrix]:
    """(ifmap, filter) in the order they enter their SRAMs (MEMORY_MODEL.md 4.1)."""
    ifmap, filt = operands.ifmap, operands.filter
    if dataflow == "os":
        return _rolled_out(_stacked(ifmap.T, rows)), _rolled_out(_stacked(filt, cols))
    if dataflow == "ws":
        return _rolled_out(_stacked(ifmap, rows)), _stacked(filt, cols).ravel()
    return _stacked(ifmap.T, cols).ravel(), _rolled_out(_stacked(filt.T, rows))


@dataclass(frozen=True)
class _Pattern:
    """One fold's demand of one operand: line t, and (row, col) in the operand matrix relative to the
    fold's origin (_fold_origins), sorted by line then array column."""

    line: np.ndarray
    row: np.ndarray
    col: np.ndarray


def _diagonal(width: int, length: int, first_line: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array column j meets stream position p at line first_line + j + p: (line, j, p) by line, j."""
    j, p = np.meshgrid(np.arange(width), np.arange(length), indexing="ij")
    line = (j + p + first_line).ravel()
    order = np.lexsort((j.ravel(), line))
    return line[order], j.ravel()[order], p.ravel()[order]


def _block(width: int, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stationary block loaded in the first `depth` lines, last row first, no skew."""
    t, j = np.meshgrid(np.arange(depth), np.arange(width), indexing="ij")
    return t.ravel(), j.ravel(), (depth - 1 - t).ravel()


def _patterns(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> tuple[_Pattern, ...]:
    """Per-fold demand of ifmap, filter and ofmap (MEMORY_MODEL.md 4.2)."""
    if dataflow == "os":  # folds: fc over N, fr over M; lines K + R + C - 2
        line, j, p = _diagonal(rows, k, 0)
        ifmap = _Pattern(line, j, p)
        line, j, p = _diagonal(cols, k, 0)
        filt = _Pattern(line, p, j)
        line, j, p = _diagonal(cols, rows, k - 1)
        ofmap = _Pattern(line, rows - 1 - p, j)
    elif dataflow == "ws":  # fc over N, fr over K; lines 2R + M + C - 2
        line, j, p = _diagonal(rows, m, rows)
        ifmap = _Pattern(line, p, j)
        line, j, p = _block(cols, rows)
        filt = _Pattern(line, p, j)
        line, j, p = _diagonal(cols, m, 2 * rows - 1)
        ofmap = _Pattern(line, p, j)
    else:  # is: fc over M, fr over K; lines 2R + N + C - 2
        line, j, p = _block(cols, rows)
        ifmap = _Pattern(line, j, p)
        line, j, p = _diagonal(rows, n, rows)
        filt = _Pattern(line, j, p)
        line, j, p = _diagonal(cols, n, 2 * rows - 1)
        ofmap = _Pattern(line, j, p)
    return ifmap, filt, ofmap


def fold_geometry(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> tuple[int, int, int]:
    """(column folds, row folds, lines per fold); column folds are the outer loop."""
    if dataflow == "os":
        return ceil(n / cols), ceil(m / rows), k + rows + cols - 2
    if dataflow == "ws":
        return ceil(n / cols), ceil(k / rows), 2 * rows + m + cols - 2
    return ceil(m / cols), ceil(k / rows), 2 * rows + n + cols - 2


def _fold_origins(dataflow: str, operand: int, fc: int, fr: int, rows: int, cols: int) -> tuple[int, int]:
    """(row, col) origin of fold (fc, fr) in operand 0 ifmap, 1 filter, 2 ofmap."""
    if dataflow == "os":
        return ((fr * rows, 0), (0, fc * cols), (fr * rows, fc * cols))[operand]
    if dataflow == "ws":
        return ((0, fr * rows), (fr * rows, fc * cols), (0, fc * cols))[operand]
    return ((fc * cols, fr * rows), (fr * rows, 0), (fc * cols, 0))[operand]


def demand(operands: OperandMatrices, dataflow: str, rows: int, cols: int,
           operand: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(addresses, demand line) of one operand's demanded elements in order, fold by fold."""
    matrix = (operands.ifmap, operands.filter, operands.ofmap)[operand]
    m, n, k = operands.mnk
    pattern = _patterns(dataflow, rows, cols, m, n, k)[operand]
    col_folds, row_folds, per = fold_geometry(dataflow, rows, cols, m, n, k)
    height, width = matrix.shape
    for fold in range(col_folds * row_folds):
        fc, fr = divmod(fold, row_folds)
        row0, col0 = _fold_origins(dataflow, operand, fc, fr, rows, cols)
        r, c = pattern.row + row0, pattern.col + col0
        inside = (r < height) & (c < width)
        address = matrix[r[inside], c[inside]]
        valid = address >= 0
        yield address[valid], (pattern.line[inside] + fold * per)[valid]


# ------------------------------------------------------------------ read buffers


class _Window:
    """A read buffer's hashed sets over its fetch stream and the circular active window."""

    def __init__(self, stream: Matrix, size_kb: float, bandwidth: int, addresses: int, unique: bool) -> None:
        total = int(size_kb * 1024)
        active = ceil(total * 0.5)
        prefetch = total - active
        per_set = ceil(total / 100)
        valid = stream[stream >= 0]
        self.sets = len(valid) // per_set + 1
        self.active = min(ceil(active / per_set), self.sets)
        self.step = max(min(ceil(prefetch / per_set), self.sets - self.active), 1)
        self.refill_lines = ceil(prefetch / bandwidth)
        self.first_fill_words = min(ceil(active / bandwidth), ceil(len(stream) / bandwidth)) * bandwidth
        self.bandwidth = bandwidth
        set_of_entry = np.arange(len(valid), dtype=np.int64) // per_set
        self.unique = unique
        if unique:  # one set per address
            self.set_of = np.full(addresses, -1, dtype=np.int64)
            self.set_of[valid] = set_of_entry
        else:  # im2col duplicates: an address is in every set holding one of its copies
            order = np.argsort(valid, kind="stable")
            self.keys = valid[order] * self.sets + set_of_entry[order]  # sorted by address, then set
        self.start = 0

    def fits(self) -> bool:
        return self.sets <= self.active

    def _inside(self, addresses: np.ndarray, start: int) -> np.ndarray:
        """Per address: does a set in the window starting at `start` hold it?"""
        if self.unique:
            return (self.set_of[addresses] - start) % self.sets < self.active
        found = np.zeros(len(addresses), dtype=bool)
        end = start + self.active
        spans = ((start, min(end, self.sets)), (0, end - self.sets)) if end > self.sets else ((start, end),)
        base = addresses * self.sets
        for low, high in spans:
            if high > low:
                found |= np.searchsorted(self.keys, base + high) > np.searchsorted(self.keys, base + low)
        return found

    def walk(self, chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> list[tuple[int, int]]:
        """(demand line, refills) of every line whose demand moves the window, in order."""
        events: list[tuple[int, int]] = []
        if self.fits():
            return events
        for addresses, lines in chunks:
            position, size = 0, CHUNK
            while position < len(addresses):
                part = addresses[position:position + size]
                missing = np.flatnonzero(~self._inside(part, self.start))
                if not len(missing):
                    position += size
                    size *= 2
                    continue
                at = position + int(missing[0])
                refills = 0
                one = addresses[at:at + 1]
                while not self._inside(one, self.start)[0]:
                    self.start = (self.start + self.step) % self.sets
                    refills += 1
                line = int(lines[at])
                if events and events[-1][0] == line:
                    events[-1] = (line, events[-1][1] + refills)
                else:
                    events.append((line, refills))
                position, size = at + 1, CHUNK
        return events

    def dram_words(self, refills: int) -> int:
        return self.first_fill_words + refills * self.refill_lines * self.bandwidth


# ------------------------------------------------------------------ write buffer and timing


class _WriteBuffer:
    """The ofmap SRAM: stores every demand element in `bandwidth`-word lines, drains half at a time."""

    def __init__(self, size_kb: float, bandwidth: int) -> None:
        self.total = int(size_kb * 1024)
        self.drain = self.total - ceil(self.total * 0.5)
        self.threshold = self.total - self.drain
        self.bandwidth = bandwidth
        self.lines_per_drain = ceil(self.drain / bandwidth)
        self.free = self.total
        self.drain_end = 0
        self.fill = 0  # words in the open line
        self.closed = 0  # closed lines
        self.partial: dict[int, int] = {}  # closed line -> its words, where fewer than `bandwidth`
        self.drained = 0  # lines sent so far
        self.written = 0  # DRAM words

    def _close(self) -> None:
        if self.fill:
            if self.fill < self.bandwidth:
                self.partial[self.closed] = self.fill
            self.closed += 1
            self.fill = 0

    def _send(self, lines: int) -> int:
        end = self.drained + lines
        words = lines * self.bandwidth - (self.bandwidth - self.partial.get(end - 1, self.bandwidth))
        self.drained = end
        self.written += words
        return words

    def bulk(self, elements: int) -> None:
        """Store `elements` with no event among them."""
        self.free -= elements
        full, self.fill = divmod(self.fill + elements, self.bandwidth)
        self.closed += full

    def store_line(self, elements: int, cycle: int) -> int:
        """Store one line's elements one by one from `cycle`; returns the cycle the line is done."""
        current = cycle
        for _ in range(elements):
            self.fill += 1
            self.free -= 1
            if self.fill == self.bandwidth:
                self.closed += 1
                self.fill = 0
            if current < self.drain_end:
                if self.free <= 0:
                    current = self.drain_end
            elif self.free < self.threshold:
                self._close()
                lines = min(self.lines_per_drain, self.closed - self.drained)
                self.free += self._send(lines)
                self.drain_end = current + lines - 1
        return current

    def next_event(self, first_element: int, first_line: int, stall: int, starts: np.ndarray) -> int:
        """Global index of the next element that drains or waits, if the stall stays as it is."""
        drain = first_element + max(0, self.free - self.threshold)
        full = first_element + max(0, self.free - 1)
        draining_until = self.drain_end - stall  # lines before this one are still draining
        not_draining = first_element if draining_until <= first_line else int(
            starts[min(draining_until, len(starts) - 1)])
        if drain >= not_draining:
            return drain
        return full if full < not_draining else not_draining

    def flush(self) -> None:
        """After the last line: every remaining line goes out (not part of Total Cycles)."""
        self._close()
        while self.drained < self.closed:
            self._send(min(self.lines_per_drain, self.closed - self.drained))


def _port_stall(first_refill: int, refills: int, refill_lines: int, cycle: int) -> int:
    """Stall of a read port at a line that needs refills first_refill+1 .. first_refill+refills; refill k
    completes at k * (refill_lines + 1) - 1 (3.0.0 adds a positive wait twice)."""
    offset = 1
    for number in range(first_refill + 1, first_refill + refills + 1):
        wait = number * (refill_lines + 1) - 1 - (cycle + offset)
        offset += wait
        if wait > 0:
            offset += wait
    return offset - 1


def calc_reads(chunks: Iterator[tuple[np.ndarray, np.ndarray]], size_kb: float) -> int:
    """DRAM words of a read buffer under InterfaceBandwidth CALC (read_buffer_estimate_bw.py): a demanded
    address not yet read in the current group is read; a group closes after 50 sets of
    floor(size / 100) such reads."""
    addresses = np.concatenate([chunk for chunk, _ in chunks] or [np.zeros(0, dtype=np.int64)])
    group = max(int(size_kb * 1024) // 100, 1) * 50
    reads, position, span = 0, 0, 2 * group
    while position < len(addresses):
        part = addresses[position:position + span]
        _, first = np.unique(part, return_index=True)
        if len(first) >= group:
            last = int(np.sort(first)[group - 1])
            reads += group
            position += last + 1
            span = 2 * group
        elif position + span >= len(addresses):
            reads += len(first)
            break
        else:
            span *= 2
    return reads


def simulate_op(operands: OperandMatrices, dataflow: str, rows: int, cols: int, ports: Ports,
                calc: bool = False) -> OpTraffic:
    """SCALE-Sim's DRAM words per operand, compute and stall cycles of one GEMM op; `calc`:
    InterfaceBandwidth CALC (reads by calc_reads, the ofmap port ArrayWidth wide, no stall)."""
    m, n, k = operands.mnk
    if calc:
        col_folds, row_folds, per = fold_geometry(dataflow, rows, cols, m, n, k)
        writes_only = simulate_op(operands, dataflow, rows, cols, Ports(
            ports.ifmap_kb, ports.filter_kb, ports.ofmap_kb, 1 << 40, 1 << 40, cols))
        return OpTraffic(calc_reads(demand(operands, dataflow, rows, cols, 0), ports.ifmap_kb),
                         calc_reads(demand(operands, dataflow, rows, cols, 1), ports.filter_kb),
                         writes_only.ofmap_writes, col_folds * row_folds * per - 1, 0)
    col_folds, row_folds, per = fold_geometry(dataflow, rows, cols, m, n, k)
    lines = col_folds * row_folds * per
    stream_if, stream_f = fetch_streams(operands, dataflow, rows, cols)
    windows = (
        _Window(stream_if, ports.ifmap_kb, ports.ifmap_bandwidth, operands.ifmap_addresses,
                operands.ifmap_unique),
        _Window(stream_f, ports.filter_kb, ports.filter_bandwidth, int(operands.filter.max()) + 1, True),
    )
    refills = [window.walk(demand(operands, dataflow, rows, cols, operand))
               for operand, window in enumerate(windows)]
    per_line = np.zeros(lines + 1, dtype=np.int64)
    for _, line_of in demand(operands, dataflow, rows, cols, 2):
        per_line += np.bincount(line_of + 1, minlength=lines + 1)
    starts = np.cumsum(per_line)  # starts[i]: ofmap elements before line i
    writes = _WriteBuffer(ports.ofmap_kb, ports.ofmap_bandwidth)
    read_lines = sorted({line for events in refills for line, _ in events})
    by_port = [dict(events) for events in refills]
    done = [0, 0]  # refills completed per read port
    stall, line = 0, 0
    for stop in [*read_lines, lines]:
        while line < stop:  # lines with no refill: only the write buffer can stall them
            event = writes.next_event(int(starts[line]), line, stall, starts)
            if event >= starts[stop]:
                writes.bulk(int(starts[stop] - starts[line]))
                line = stop
                break
            event_line = int(np.searchsorted(starts, event, side="right")) - 1
            writes.bulk(int(starts[event_line] - starts[line]))
            cycle = event_line + stall
            stall += writes.store_line(int(starts[event_line + 1] - starts[event_line]), cycle) - cycle
            line = event_line + 1
        if stop == lines:
            break
        cycle = stop + stall
        worst = writes.store_line(int(starts[stop + 1] - starts[stop]), cycle) - cycle
        for port, window in enumerate(windows):
            count = by_port[port].get(stop, 0)
            if count:
                worst = max(worst, _port_stall(done[port], count, window.refill_lines, cycle))
                done[port] += count
        stall += worst
        line = stop + 1
    writes.flush()
    return OpTraffic(windows[0].dram_words(done[0]), windows[1].dram_words(done[1]), writes.written,
                     lines - 1, stall)
