"""Aligned passages of document pairs, compiled (numba): the alignment step of verification.

Each pair's token sequences are aligned by a longest common subsequence, computed and traced back exactly as
rapidfuzz's `Indel.opcodes` does (Hyyrö's bit-parallel LCS over the first sequence's bits, the common prefix and
suffix set aside first, deletions preferred on the way back), so the equal blocks are the ones rapidfuzz gives
(`tests/test_passages.py` checks this against rapidfuzz itself). Equal blocks are joined across small gaps into
passages; aligning again what earlier passes left unmatched finds passages the copy moved.

All pairs of a batch go through one call, so no Python runs per pair or per block: in Python, the blocks of one
pair cost more than rapidfuzz's alignment itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Two aligned runs of tokens separated by at most this many unmatched tokens on each side are one passage: a
# substituted word or a reformatted number inside a copied sentence does not cut it in two.
MAX_GAP = 4
# Each further alignment of what earlier ones left unmatched finds passages the copy moved.
MAX_PASSES = 4
# A passage must be mostly matched words, with one unbroken run of at least this many: scattered stock phrases
# ("the … said … in the …") joined across small gaps are not a copied passage.
MIN_DENSITY = 0.8
MIN_RUN = 5

# What masks a matched token for the next pass: a value no token has, and a different one on each side.
_TAKEN_A = -1
_TAKEN_B = -2
_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def equal_blocks(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """(a_start, b_start, size) of each equal block of the LCS alignment of `a` and `b`, in order: what
    `Indel.opcodes(a, b).as_matching_blocks()` gives, without its closing empty block."""
    len1, len2 = len(a), len(b)
    prefix = 0
    while prefix < len1 and prefix < len2 and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len1 - prefix and suffix < len2 - prefix and a[len1 - 1 - suffix] == b[len2 - 1 - suffix]:
        suffix += 1
    s1, s2 = a[prefix : len1 - suffix], b[prefix : len2 - suffix]
    n, m = len(s1), len(s2)
    reversed_blocks = np.empty((min(n, m) + 2, 3), dtype=np.int64)
    count = 0
    if suffix:
        reversed_blocks[0, 0], reversed_blocks[0, 1], reversed_blocks[0, 2] = len1 - suffix, len2 - suffix, suffix
        count = 1
    in_run = suffix > 0  # the last step back was a match, so a match now extends the same block
    col, row = n, m
    if n and m:
        rows = _lcs_rows(s1, s2)
        while row and col:
            if (rows[row - 1, (col - 1) >> 6] >> np.uint64((col - 1) & 63)) & np.uint64(1):
                col -= 1  # deletion
                in_run = False
                continue
            row -= 1
            if row and not (rows[row - 1, (col - 1) >> 6] >> np.uint64((col - 1) & 63)) & np.uint64(1):
                in_run = False  # insertion
                continue
            col -= 1  # a match: s1[col] == s2[row]
            if in_run:
                reversed_blocks[count - 1, 0] -= 1
                reversed_blocks[count - 1, 1] -= 1
                reversed_blocks[count - 1, 2] += 1
            else:
                reversed_blocks[count, 0], reversed_blocks[count, 1] = col + prefix, row + prefix
                reversed_blocks[count, 2] = 1
                count += 1
                in_run = True
    if col or row:
        in_run = False  # the first tokens of one side are deleted or inserted
    if prefix:
        if in_run:
            reversed_blocks[count - 1, 0] = 0
            reversed_blocks[count - 1, 1] = 0
            reversed_blocks[count - 1, 2] += prefix
        else:
            reversed_blocks[count, 0], reversed_blocks[count, 1], reversed_blocks[count, 2] = 0, 0, prefix
            count += 1
    return reversed_blocks[:count][::-1].copy()


@njit(cache=True, nogil=True)
def _lcs_rows(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Hyyrö's bit vector over the positions of `s1` after each value of `s2` (a zero bit marks an LCS step), in
    words of 64 bits: the matrix rapidfuzz traces its alignment back through."""
    n, m = len(s1), len(s2)
    words = (n + 63) >> 6
    # Each distinct value of s1 gets a row of `masks` (where it occurs) through an open-addressing table; values
    # s1 lacks get the empty row n.
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    slots = np.uint64((1 << bits) - 1)
    keys = np.empty(1 << bits, dtype=np.int64)
    ids = np.full(1 << bits, -1, dtype=np.int64)
    masks = np.zeros((n + 1, words), dtype=np.uint64)
    distinct = 0
    for i in range(n):
        slot = _slot(s1[i], bits)
        while ids[slot] >= 0 and keys[slot] != s1[i]:
            slot = (slot + np.uint64(1)) & slots
        if ids[slot] < 0:
            ids[slot], keys[slot] = distinct, s1[i]
            distinct += 1
        masks[ids[slot], i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    state = np.full(words, _ALL_ONES, dtype=np.uint64)  # bits above n never reach the n that matter
    rows = np.empty((m, words), dtype=np.uint64)
    for j in range(m):
        symbol = n
        slot = _slot(s2[j], bits)
        while ids[slot] >= 0:
            if keys[slot] == s2[j]:
                symbol = ids[slot]
                break
            slot = (slot + np.uint64(1)) & slots
        carry = np.uint64(0)
        for w in range(words):
            old = state[w]
            u = old & masks[symbol, w]
            total = old + u
            overflow = total < old
            total += carry
            carry = np.uint64(overflow) | np.uint64(total < carry)  # `or` compiles to a branch
            state[w] = total | (old ^ u)  # old - u: u is a subset of old's bits, so nothing is borrowed
            rows[j, w] = state[w]
    return rows


@njit(cache=True, nogil=True, inline="always")
def _slot(value: int, bits: int) -> np.uint64:  # pragma: no cover - compiled
    """Fibonacci hashing: the top `bits` bits of value x 2**64/phi."""
    return (np.uint64(value) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)


@njit(cache=True, nogil=True)
def _joined(blocks: np.ndarray, min_words: int) -> np.ndarray:  # pragma: no cover - compiled
    """Passages (a_first, a_last, b_first, b_last, inclusive) of one alignment's equal blocks joined across gaps
    of at most MAX_GAP tokens on both sides: those with `min_words` matched tokens, a run of MIN_RUN and a density
    of MIN_DENSITY."""
    runs = np.empty((len(blocks), 6), dtype=np.int64)  # a0, a1, b0, b1 (exclusive ends), matched, longest run
    count = 0
    for k in range(len(blocks)):
        a, b, size = blocks[k, 0], blocks[k, 1], blocks[k, 2]
        if count and a - runs[count - 1, 1] <= MAX_GAP and b - runs[count - 1, 3] <= MAX_GAP:
            runs[count - 1, 1], runs[count - 1, 3] = a + size, b + size
            runs[count - 1, 4] += size
            runs[count - 1, 5] = max(runs[count - 1, 5], size)
        else:
            runs[count, 0], runs[count, 1], runs[count, 2], runs[count, 3] = a, a + size, b, b + size
            runs[count, 4], runs[count, 5] = size, size
            count += 1
    out = np.empty((count, 4), dtype=np.int64)
    kept = 0
    for k in range(count):
        a0, a1, b0, b1, matched, longest = runs[k, 0], runs[k, 1], runs[k, 2], runs[k, 3], runs[k, 4], runs[k, 5]
        if matched >= min_words and longest >= MIN_RUN and matched >= MIN_DENSITY * max(a1 - a0, b1 - b0):
            out[kept, 0], out[kept, 1], out[kept, 2], out[kept, 3] = a0, a1 - 1, b0, b1 - 1
            kept += 1
    return out[:kept]


_WINDOW_BASE = np.uint64(0x100000001B3)


@njit(cache=True, nogil=True, inline="always")
def _rolled(h: np.uint64, values: np.ndarray, i: int, k: int, top: np.uint64) -> np.uint64:  # pragma: no cover
    """The hash of the k-window ending at values[i], from `h`, that of the window ending just before it (`top`:
    what the value leaving the window weighs)."""
    if i >= k:
        h -= np.uint64(values[i - k]) * top
    return h * _WINDOW_BASE + np.uint64(values[i])


@njit(cache=True, nogil=True, inline="always")
def _window_slot(h: np.uint64, mask: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    return (h ^ (h >> np.uint64(29))) & mask


@njit(cache=True, nogil=True)
def _share_run(a: np.ndarray, b: np.ndarray, k: int) -> bool:  # pragma: no cover - compiled
    """Whether `a` and `b` may have a stretch of `k` equal values in common (False: surely none): every k-window of
    `b` goes into an open-addressing table by a rolling hash, and each window of `a` is looked up."""
    if len(a) < k or len(b) < k:
        return False
    top = np.uint64(1)
    for _ in range(k - 1):
        top *= _WINDOW_BASE
    size = 1
    while size < 2 * len(b):
        size *= 2
    mask = np.uint64(size - 1)
    used = np.zeros(size, dtype=np.bool_)
    keys = np.zeros(size, dtype=np.uint64)
    h = np.uint64(0)
    for j in range(len(b)):
        h = _rolled(h, b, j, k, top)
        if j >= k - 1:
            slot = _window_slot(h, mask)
            while used[slot] and keys[slot] != h:
                slot = (slot + np.uint64(1)) & mask
            used[slot], keys[slot] = True, h
    h = np.uint64(0)
    for i in range(len(a)):
        h = _rolled(h, a, i, k, top)
        if i >= k - 1:
            slot = _window_slot(h, mask)
            while used[slot]:
                if keys[slot] == h:
                    return True  # a 64-bit hash collision would only cost one needless alignment
                slot = (slot + np.uint64(1)) & mask
    return False


@njit(cache=True, nogil=True)
def pair_passages(a: np.ndarray, b: np.ndarray, min_words: int) -> tuple[np.ndarray, float]:  # pragma: no cover
    """The aligned passages of two token sequences (a_first, a_last, b_first, b_last, inclusive, sorted) and
    their Indel similarity (2 x LCS / total length, from the first pass).

    Each pass masks what it matched; the next runs only while both sides keep `min_words` unmatched tokens and
    share a run of MIN_RUN of them (no passage can form otherwise). Passages then grow over equal neighbouring
    tokens the alignment gave to another occurrence of the same word."""
    work_a, work_b = a.astype(np.int64), b.astype(np.int64)
    found = np.empty((0, 4), dtype=np.int64)
    free_a, free_b = len(a), len(b)
    similarity = 0.0
    for step in range(MAX_PASSES):
        if step and (min(free_a, free_b) < min_words or not _share_run(work_a, work_b, MIN_RUN)):
            break
        blocks = equal_blocks(work_a, work_b)
        if step == 0:
            similarity = 2.0 * blocks[:, 2].sum() / max(1, len(a) + len(b))
            if min(free_a, free_b) < min_words:
                break
        new = _joined(blocks, min_words)
        if len(new) == 0:
            break
        found = np.concatenate((found, new))
        for k in range(len(new)):
            free_a -= new[k, 1] - new[k, 0] + 1
            free_b -= new[k, 3] - new[k, 2] + 1
            work_a[new[k, 0] : new[k, 1] + 1] = _TAKEN_A
            work_b[new[k, 2] : new[k, 3] + 1] = _TAKEN_B
    for k in range(len(found)):
        a0, a1, b0, b1 = found[k, 0], found[k, 1], found[k, 2], found[k, 3]
        while a0 > 0 and b0 > 0 and a[a0 - 1] == b[b0 - 1]:
            a0, b0 = a0 - 1, b0 - 1
        while a1 + 1 < len(a) and b1 + 1 < len(b) and a[a1 + 1] == b[b1 + 1]:
            a1, b1 = a1 + 1, b1 + 1
        found[k, 0], found[k, 1], found[k, 2], found[k, 3] = a0, a1, b0, b1
    return _sorted_rows(found), similarity


@njit(cache=True, nogil=True)
def _sorted_rows(rows: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Rows in lexicographic order (a few passages: an insertion sort)."""
    out = rows.copy()
    for i in range(1, len(out)):
        j = i
        while j > 0:
            earlier = False
            for c in range(out.shape[1]):
                if out[j, c] != out[j - 1, c]:
                    earlier = out[j, c] < out[j - 1, c]
                    break
            if not earlier:
                break
            for c in range(out.shape[1]):
                out[j, c], out[j - 1, c] = out[j - 1, c], out[j, c]
            j -= 1
    return out


@njit(cache=True, nogil=True)
def batch_passages(
    codes_a: np.ndarray,
    offsets_a: np.ndarray,
    rows_a: np.ndarray,
    codes_b: np.ndarray,
    offsets_b: np.ndarray,
    rows_b: np.ndarray,
    min_words: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """`pair_passages` of every pair (tokens rows_a[i] of a, rows_b[i] of b; token sequences as values and
    offsets): each pair's similarity, and its passages (k x 4) at passage_offsets[i]:passage_offsets[i + 1]."""
    n = len(rows_a)
    similarity = np.empty(n, dtype=np.float64)
    passage_offsets = np.zeros(n + 1, dtype=np.int64)
    parts = []
    for i in range(n):
        a = codes_a[offsets_a[rows_a[i]] : offsets_a[rows_a[i] + 1]]
        b = codes_b[offsets_b[rows_b[i]] : offsets_b[rows_b[i] + 1]]
        found, similarity[i] = pair_passages(a, b, min_words)
        passage_offsets[i + 1] = passage_offsets[i] + len(found)
        parts.append(found)
    passages = np.empty((passage_offsets[n], 4), dtype=np.int64)
    for i in range(n):
        passages[passage_offsets[i] : passage_offsets[i + 1]] = parts[i]
    return similarity, passage_offsets, passages
