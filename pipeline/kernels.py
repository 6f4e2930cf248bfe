"""Compiled loops (numba) for the few hot paths that neither numpy nor the libraries' batch APIs express without
materialising far more memory than the answer needs.

Each kernel takes flat numpy arrays (the Arrow list layout: values plus offsets) and releases the GIL, so threads
can run it side by side. Compiled code is cached on disk (`cache=True`): a process pays
the compilation once per installation, not once per run.

A kernel whose output size is known only at the end allocates for the worst case without zeroing it and returns
views of the part it wrote: the pages it never wrote are never touched, where copying the part out touched every
page again (fresh memory is not free: copies like that were a third of some kernels' time).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _merge_step(
    values_a: np.ndarray, values_b: np.ndarray, p: int, q: int, count: int
) -> tuple[int, int, int]:  # pragma: no cover - compiled
    """One branch-free step of a sorted merge: which side advances is a coin flip the CPU cannot predict."""
    x, y = values_a[p], values_b[q]
    return p + (x <= y), q + (y <= x), count + (x == y)


@njit(cache=True, nogil=True, inline="always")
def _segment(offsets: np.ndarray, rows: np.ndarray, i: int, n: int) -> tuple[int, int]:  # pragma: no cover
    """The span of segment rows[i] (empty when i is past the pairs)."""
    if i >= n:
        return 0, 0
    return offsets[rows[i]], offsets[rows[i] + 1]


@njit(cache=True, nogil=True)
def intersection_sizes(
    values_a: np.ndarray,
    offsets_a: np.ndarray,
    rows_a: np.ndarray,
    values_b: np.ndarray,
    offsets_b: np.ndarray,
    rows_b: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """|A ∩ B| for each pair (A = segment rows_a[i] of values_a, B = segment rows_b[i] of values_b), where every
    segment is sorted and distinct: a linear merge per pair, no temporary arrays.

    Each step of a merge waits on the comparison before it, so four merges (pairs i, i + quarter, ...) advance
    side by side in one loop, and the CPU overlaps them (12% faster than two side by side)."""
    n = len(rows_a)
    out = np.zeros(n, dtype=np.int64)
    quarter = (n + 3) // 4
    for i in range(quarter):
        j1, j2, j3 = i + quarter, i + 2 * quarter, i + 3 * quarter
        p0, e0 = _segment(offsets_a, rows_a, i, n)
        q0, f0 = _segment(offsets_b, rows_b, i, n)
        p1, e1 = _segment(offsets_a, rows_a, j1, n)
        q1, f1 = _segment(offsets_b, rows_b, j1, n)
        p2, e2 = _segment(offsets_a, rows_a, j2, n)
        q2, f2 = _segment(offsets_b, rows_b, j2, n)
        p3, e3 = _segment(offsets_a, rows_a, j3, n)
        q3, f3 = _segment(offsets_b, rows_b, j3, n)
        c0 = c1 = c2 = c3 = 0
        while p0 < e0 and q0 < f0 and p1 < e1 and q1 < f1 and p2 < e2 and q2 < f2 and p3 < e3 and q3 < f3:
            p0, q0, c0 = _merge_step(values_a, values_b, p0, q0, c0)
            p1, q1, c1 = _merge_step(values_a, values_b, p1, q1, c1)
            p2, q2, c2 = _merge_step(values_a, values_b, p2, q2, c2)
            p3, q3, c3 = _merge_step(values_a, values_b, p3, q3, c3)
        while p0 < e0 and q0 < f0:
            p0, q0, c0 = _merge_step(values_a, values_b, p0, q0, c0)
        while p1 < e1 and q1 < f1:
            p1, q1, c1 = _merge_step(values_a, values_b, p1, q1, c1)
        while p2 < e2 and q2 < f2:
            p2, q2, c2 = _merge_step(values_a, values_b, p2, q2, c2)
        while p3 < e3 and q3 < f3:
            p3, q3, c3 = _merge_step(values_a, values_b, p3, q3, c3)
        out[i] = c0
        if j1 < n:
            out[j1] = c1
        if j2 < n:
            out[j2] = c2
        if j3 < n:
            out[j3] = c3
    return out


# Bits of the bitmap `intersection_bounds` marks a document's fingerprints in: 2**18 bits (32 KB) stay in L1, and a
# 400-shingle document sets ~0.15% of them, so a 400-shingle partner gains ~0.6 false hits.
BOUND_BITS = 18


@njit(cache=True, nogil=True)
def intersection_bounds(
    values_a: np.ndarray,
    offsets_a: np.ndarray,
    rows_a: np.ndarray,
    values_b: np.ndarray,
    offsets_b: np.ndarray,
    rows_b: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """An upper bound on |A ∩ B| for each pair (segments as in `intersection_sizes`): how many of B's values land on
    a bit that A's values set in a bitmap indexed by their low BOUND_BITS bits (hashes: well mixed there).

    One lookup per value of B and no data-dependent branch, where a merge waits on every comparison: screening
    bounds every pair and merges only those the bound cannot rule out. A's bitmap is kept while `rows_a` repeats
    (candidates come sorted by their first row, ~10 partners each), and cleared value by value."""
    bitmap = np.zeros(1 << (BOUND_BITS - 6), dtype=np.uint64)
    mask = np.uint64((1 << BOUND_BITS) - 1)
    out = np.zeros(len(rows_a), dtype=np.int64)
    current = -1
    for i in range(len(rows_a)):
        row = rows_a[i]
        if row != current:
            if current >= 0:
                for p in range(offsets_a[current], offsets_a[current + 1]):
                    bitmap[np.int64((values_a[p] & mask) >> np.uint64(6))] = 0
            current = row
            for p in range(offsets_a[row], offsets_a[row + 1]):
                bit = values_a[p] & mask
                bitmap[np.int64(bit >> np.uint64(6))] |= np.uint64(1) << (bit & np.uint64(63))
        hits = 0
        for q in range(offsets_b[rows_b[i]], offsets_b[rows_b[i] + 1]):
            bit = values_b[q] & mask
            hits += np.int64((bitmap[np.int64(bit >> np.uint64(6))] >> (bit & np.uint64(63))) & np.uint64(1))
        out[i] = hits
    return out


@njit(cache=True, nogil=True)
def signature_agreements(
    minhash_a: np.ndarray, rows_a: np.ndarray, minhash_b: np.ndarray, rows_b: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """How many MinHash values pair i has in common: row rows_a[i] of `minhash_a` against row rows_b[i] of
    `minhash_b` (docs x num_perm). Gathering both rows per pair in numpy first would copy 2 x num_perm values per
    pair through memory; here each pair is compared where it lies."""
    out = np.zeros(len(rows_a), dtype=np.int32)
    width = min(minhash_a.shape[1], minhash_b.shape[1])
    for i in range(len(rows_a)):
        a, b = minhash_a[rows_a[i]], minhash_b[rows_b[i]]
        same = 0
        for k in range(width):
            same += a[k] == b[k]
        out[i] = same
    return out


@njit(cache=True, nogil=True)
def code_points(hashes: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Each hash as a Unicode code point outside the surrogate block: hash mod 0x10F800, moved past 0xD7FF by
    0x800. Compiled, the modulo by a constant is a multiply (numpy divides, 5x slower)."""
    out = np.empty(len(hashes), dtype=np.int32)
    for i in range(len(hashes)):
        point = np.int32(hashes[i] % np.uint64(0x10F800))
        out[i] = point + (point >= 0xD800) * np.int32(0x800)
    return out


@njit(cache=True, nogil=True)
def copy_segments(
    source: np.ndarray, starts: np.ndarray, lengths: np.ndarray, target: np.ndarray, at: np.ndarray
) -> None:  # pragma: no cover - compiled
    """target[at[i] : at[i] + lengths[i]] = source[starts[i] : starts[i] + lengths[i]] for every i."""
    for i in range(len(starts)):
        target[at[i] : at[i] + lengths[i]] = source[starts[i] : starts[i] + lengths[i]]


@njit(cache=True, nogil=True)
def band_matches(
    keys: np.ndarray, flags: np.ndarray, ordered: np.ndarray, order: np.ndarray, max_bucket_size: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Every (row of `keys`, target row) sharing a key in a band, once per band shared. keys: (rows x bands);
    ordered, order: (bands x target rows), each band's target keys sorted and the target rows in that order;
    flags: a presence filter of every target key (by its low bits), so most keys skip the binary search. Keys that
    more than `max_bucket_size` target rows hold in a band make no pairs."""
    mask = np.uint64(len(flags) - 1)
    bands = min(keys.shape[1], ordered.shape[0])
    n = keys.shape[0]
    width = ordered.shape[1]
    first = np.zeros((bands, n), dtype=np.int64)
    count = np.zeros((bands, n), dtype=np.int64)
    total = 0
    for band in range(bands):
        column = ordered[band]
        for i in range(n):
            key = keys[i, band]
            if not flags[np.int64(key & mask)]:
                continue
            lo = np.searchsorted(column, key)
            hi = lo
            # Walk the bucket rather than search its end: at most max_bucket_size + 1 steps.
            while hi < width and column[hi] == key and hi - lo <= max_bucket_size:
                hi += 1
            if hi - lo <= max_bucket_size:
                first[band, i], count[band, i] = lo, hi - lo
                total += hi - lo
    rows = np.empty(total, dtype=np.int64)
    targets = np.empty(total, dtype=np.int64)
    at = 0
    for band in range(bands):
        for i in range(n):
            for p in range(first[band, i], first[band, i] + count[band, i]):
                rows[at] = i
                targets[at] = order[band, p]
                at += 1
    return rows, targets


@njit(cache=True, nogil=True)
def pairs_within_runs(members: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Every pair (members[p], members[q]), p < q, of positions in the same run of equal `groups` values (`groups`
    sorted): the pairs of each bucket, in one pass that costs what the pairs cost."""
    n = len(members)
    run_ends = np.empty(n, dtype=np.int64)
    runs = total = start = 0
    while start < n:
        end = start + 1
        while end < n and groups[end] == groups[start]:
            end += 1
        run_ends[runs] = end
        runs += 1
        total += (end - start) * (end - start - 1) // 2
        start = end
    left = np.empty(total, dtype=np.int64)
    right = np.empty(total, dtype=np.int64)
    at = start = 0
    for run in range(runs):
        end = run_ends[run]
        for p in range(start, end):
            for q in range(p + 1, end):
                left[at] = members[p]
                right[at] = members[q]
                at += 1
        start = end
    return left, right


@njit(cache=True, nogil=True)
def sampled_entries(
    values: np.ndarray, offsets: np.ndarray, sample: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The values divisible by `sample` (> 0) among the lists values[offsets[r]:offsets[r+1]], and the list r each
    comes from. Written without a branch per value (a quarter are kept, at random), and a power-of-two `sample`
    tests low bits instead of dividing."""
    n_rows = len(offsets) - 1
    kept = np.empty(offsets[n_rows] - offsets[0] + 1, dtype=np.uint64)
    rows = np.empty(len(kept), dtype=np.int64)
    found = 0
    low_bits = sample & (sample - 1) == 0
    mask = np.uint64(sample - 1)
    divisor = np.uint64(sample)
    for r in range(n_rows):
        for p in range(offsets[r], offsets[r + 1]):
            value = values[p]
            kept[found], rows[found] = value, r
            found += ((value & mask) if low_bits else (value % divisor)) == 0
    return kept[:found], rows[:found]


@njit(cache=True, nogil=True)
def packed_samples(
    values: np.ndarray, offsets: np.ndarray, sample: int, first_row: int, doc_bits: int, out: np.ndarray, at: int
) -> tuple[int, bool]:  # pragma: no cover - compiled
    """`sampled_entries` written as value << doc_bits | (first_row + row) into out[at:] (one slot more than they
    fill: each value is written, then kept or overwritten), rows numbered from `first_row`. Returns where the next
    entry goes, and whether every kept value fit above `doc_bits` (when not, the caller packs another way)."""
    low_bits = sample & (sample - 1) == 0
    mask = np.uint64(sample - 1)
    divisor = np.uint64(sample)
    shift = np.uint64(doc_bits)
    high = np.uint64(0)
    for r in range(len(offsets) - 1):
        row = np.uint64(first_row + r)
        for p in range(offsets[r], offsets[r + 1]):
            value = values[p]
            kept = ((value & mask) if low_bits else (value % divisor)) == 0
            out[at] = (value << shift) | row
            high |= (value >> np.uint64(64 - doc_bits)) * np.uint64(kept)
            at += kept
    return at, high == 0


@njit(cache=True, nogil=True)
def shared_value_groups(
    packed: np.ndarray, doc_bits: int, n_docs: int, max_holders: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The entries [starts[g], ends[g]) of each value that 2 to `max_holders` documents hold, and how many pairs of
    co-holders each document heads (is the lower of). Entry i says document packed[i] & (2**doc_bits - 1) holds
    value packed[i] >> doc_bits; entries come sorted (by value, then document), each (value, document) once."""
    n = len(packed)
    shift = np.uint64(doc_bits)
    low = np.uint64((1 << doc_bits) - 1)
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    headed = np.zeros(n_docs, dtype=np.int64)
    groups = 0
    start = 0
    while start < n:
        value = packed[start] >> shift
        end = start + 1
        while end < n and packed[end] >> shift == value:
            end += 1
        if 2 <= end - start <= max_holders:
            starts[groups], ends[groups] = start, end
            groups += 1
            for k in range(start, end - 1):
                headed[np.int64(packed[k] & low)] += end - 1 - k
        start = end
    return starts[:groups], ends[:groups], headed


@njit(cache=True, nogil=True)
def pairs_headed_by(
    packed: np.ndarray,
    doc_bits: int,
    starts: np.ndarray,
    ends: np.ndarray,
    n_docs: int,
    lo: int,
    hi: int,
    total: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """a * n_docs + b for every pair of co-holders a < b of each group (see `shared_value_groups`) whose lower
    document a is in [lo, hi), once per group they share; `total` is how many there are."""
    low = np.uint64((1 << doc_bits) - 1)
    out = np.empty(total, dtype=np.uint64)
    filled = 0
    for g in range(len(starts)):
        end = ends[g]
        for i in range(starts[g], end - 1):
            a = np.int64(packed[i] & low)
            if a >= hi:
                break  # holders come in document order
            if a >= lo:
                head = np.uint64(a) * np.uint64(n_docs)
                for j in range(i + 1, end):
                    out[filled] = head + (packed[j] & low)
                    filled += 1
    return out


@njit(cache=True, nogil=True)
def repeated_codes(codes: np.ndarray, min_times: int) -> np.ndarray:  # pragma: no cover - compiled
    """Each value of sorted `codes` that occurs at least `min_times` times, once, in order."""
    n = len(codes)
    out = np.empty(n // max(min_times, 1) + 1, dtype=np.uint64)
    found = 0
    start = 0
    while start < n:
        end = start + 1
        while end < n and codes[end] == codes[start]:
            end += 1
        if end - start >= min_times:
            out[found] = codes[start]
            found += 1
        start = end
    return out[:found]


@njit(cache=True, nogil=True)
def translated_bytes(data: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """table[data[i]] for every byte (numpy's `table[data]` first widens every index to 8 bytes)."""
    out = np.empty(len(data), dtype=np.uint8)
    for i in range(len(data)):
        out[i] = table[data[i]]
    return out


@njit(cache=True, nogil=True)
def spaced_utf8(
    data: np.ndarray, offsets: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """UTF-8 strings (string i is data[offsets[i]:offsets[i+1]]) with every code point of class 0 written as one
    space (character offsets stay, byte offsets shrink), and which strings hold a code point of class 2. Returns
    the new bytes and int32 offsets (an Arrow string array's buffers) and those flags. A malformed byte counts as
    one character of class 0."""
    n = len(offsets) - 1
    out = np.empty(offsets[n] - offsets[0], dtype=np.uint8)  # never longer: a character or one space for it
    out_offsets = np.empty(n + 1, dtype=np.int32)
    out_offsets[0] = 0
    flagged = np.zeros(n, dtype=np.bool_)
    at = 0
    for i in range(n):
        p, end = offsets[i], offsets[i + 1]
        while p < end:
            lead = np.int64(data[p])
            if lead < 0x80:
                point, size = lead, 1
            elif lead >= 0xF0:
                point, size = lead & 0x07, 4
            elif lead >= 0xE0:
                point, size = lead & 0x0F, 3
            elif lead >= 0xC0:
                point, size = lead & 0x1F, 2
            else:
                point, size = -1, 1  # a stray continuation byte
            if p + size > end:
                point, size = -1, 1
            for k in range(1, size):
                point = (point << 6) | (np.int64(data[p + k]) & 0x3F)
            kind = classes[point] if 0 <= point < len(classes) else 0
            if kind:
                for k in range(size):
                    out[at + k] = data[p + k]
                at += size
                if kind == 2:
                    flagged[i] = True
            else:
                out[at] = 32
                at += 1
            p += size
        out_offsets[i + 1] = at
    return out[:at].copy(), out_offsets, flagged


# Flags of a character in `text_units`' table (the Basic Multilingual Plane; no other character has any).
# Flags of a character in `text_units`' table (SCRIPT_START: the first byte of one of `SCRIPT_WORDS`).
SPACE, SENTENCE_END, SCRIPT_START = 1, 2, 4
# Flags of a unit in `text_units`' output.
UNIT_ENDS_SENTENCE, UNIT_ENDS_PAREN, UNIT_EARLY_PAREN, UNIT_ASCII, UNIT_MAYBE_SCRIPT = 1, 2, 4, 8, 16
# A unit holding one of these may be page JavaScript (`normalize._unit_kind` looks closer). Each is looked for where
# a line has its first byte (ASCII bytes occur in UTF-8 only as themselves).
SCRIPT_WORDS = ("window.", "function", "});", "_taboola")
_SCRIPT_LENGTHS = np.array([len(w) for w in SCRIPT_WORDS], dtype=np.int64)
_SCRIPT_BYTES = np.zeros((len(SCRIPT_WORDS), int(_SCRIPT_LENGTHS.max())), dtype=np.uint8)
for _row, _word in enumerate(SCRIPT_WORDS):
    _SCRIPT_BYTES[_row, : len(_word)] = np.frombuffer(_word.encode("ascii"), dtype=np.uint8)


@njit(cache=True, nogil=True)
def _decoded(
    data: np.ndarray, start: int, end: int, points: np.ndarray, bytes_at: np.ndarray
) -> int:  # pragma: no cover - compiled
    """Code points of the valid UTF-8 data[start:end] into `points`, each one's byte offset into `bytes_at` (and
    the end's after the last), returning how many there are."""
    n = 0
    p = start
    while p < end:
        points[n], size = _code_point(data, p)
        bytes_at[n] = p
        n += 1
        p += size
    bytes_at[n] = end
    return n


@njit(cache=True, nogil=True)
def _flag(table: np.ndarray, point: int, flag: int) -> bool:  # pragma: no cover
    # Statements, not `a and b`: numba compiles that expression to a path many times slower.
    if point < len(table):
        return (table[point] & flag) != 0
    return False


@njit(cache=True, nogil=True)
def _stripped(points: np.ndarray, a: int, b: int, table: np.ndarray) -> tuple[int, int]:  # pragma: no cover
    while a < b and _flag(table, points[a], SPACE):
        a += 1
    while b > a and _flag(table, points[b - 1], SPACE):
        b -= 1
    return a, b


@njit(cache=True, nogil=True)
def _unit_flags(table: np.ndarray, last: int, first_paren: int, a: int, high: int) -> int:  # pragma: no cover
    flags = UNIT_ENDS_SENTENCE if _flag(table, last, SENTENCE_END) else 0
    if last == 41:
        flags |= UNIT_ENDS_PAREN
    if 0 <= first_paren < a + 60:
        flags |= UNIT_EARLY_PAREN
    if high < 0x80:
        flags |= UNIT_ASCII
    return flags


@njit(cache=True, nogil=True)
def _paragraphs(points: np.ndarray, nc: int, table: np.ndarray, spans: np.ndarray, u: int) -> int:  # pragma: no cover
    """The stripped paragraphs of a hard-wrapped text into spans[u:] (character start, end), returning the next
    free row. Paragraphs end at a blank line (a line break, spaces or tabs, a line break, then any space, all
    dropped) or at a line break before an indented line (spaces or tabs, then another character)."""
    cursor, c = 0, 0
    while c <= nc:
        cut, resume = -1, -1
        if c == nc:
            cut, resume = nc, nc + 1
        elif points[c] == 10:
            j = c + 1
            while j < nc and (points[j] == 32 or points[j] == 9):
                j += 1
            if j < nc and points[j] == 10:  # a blank line, and any space after it
                j += 1
                while j < nc and _flag(table, points[j], SPACE):
                    j += 1
                cut, resume = c, j
            elif j > c + 1 and j < nc and not _flag(table, points[j], SPACE):  # an indented line
                cut, resume = c, c + 1
        if cut < 0:
            c += 1
            continue
        a, b = _stripped(points, cursor, cut, table)
        if a < b:
            spans[u, 0], spans[u, 1] = a, b
            u += 1
        cursor = c = resume
    return u


@njit(cache=True, nogil=True)
def _ascii_line(data: np.ndarray, p: int, q: int, table: np.ndarray) -> tuple[int, int, int]:  # pragma: no cover
    """The stripped span (start, end: byte offsets) of the ASCII line data[p:q] and its `UNIT_*` flags."""
    a, b = p, q
    while a < b and table[data[a]] & SPACE:
        a += 1
    while b > a and table[data[b - 1]] & SPACE:
        b -= 1
    first_paren = -1
    for k in range(a, min(b, a + 60)):
        if data[k] == 40:
            first_paren = k
            break
    flags = _unit_flags(table, data[b - 1], first_paren, a, 0) if a < b else 0
    return a, b, flags


@njit(cache=True, nogil=True)
def _unicode_line(
    data: np.ndarray, p: int, q: int, table: np.ndarray
) -> tuple[int, int, int, int, int, int, int]:  # pragma: no cover - compiled
    """The stripped span of the UTF-8 line data[p:q] in characters from p and in bytes, its words, `UNIT_*` flags
    and number of characters."""
    a, b, byte_a, byte_b, last, count, inside, high, first_paren = -1, -1, p, p, 0, 0, 0, 0, -1
    c, spaces = 0, 0  # spaces: the code points OR-ed of the spaces since the last other character
    while p < q:
        point, size = _code_point(data, p)
        space = table[point] & SPACE if point < len(table) else 0
        count += (1 - space) & (1 - inside)  # a word starts
        inside = 1 - space
        if space == 0:
            if a < 0:
                a, byte_a, spaces = c, p, 0
            b, byte_b, last = c + 1, p + size, point
            high |= spaces | point
            spaces = 0
        else:
            spaces |= point
        if point == 40 and first_paren < 0:
            first_paren = c
        p += size
        c += 1
    flags = _unit_flags(table, last, first_paren, a, high) if a >= 0 else 0
    return a, b, byte_a, byte_b, count, flags, c


@njit(cache=True, nogil=True)
def _script_word_at(data: np.ndarray, p: int, end: int) -> bool:  # pragma: no cover - compiled
    """Whether one of `SCRIPT_WORDS` starts at data[p] and ends by `end`. Called only where the table flags the byte
    SCRIPT_START (~4% of English bytes): testing every byte against every word took 40% of `text_units`."""
    for w in range(len(_SCRIPT_LENGTHS)):
        size = _SCRIPT_LENGTHS[w]
        if p + size <= end:
            k = 0
            while k < size and data[p + k] == _SCRIPT_BYTES[w, k]:
                k += 1
            if k == size:
                return True
    return False


@njit(cache=True, nogil=True)
def _grown(rows: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    """`rows` copied into the start of an array of `size` rows."""
    out = np.empty((size,) + rows.shape[1:], dtype=rows.dtype)  # noqa: RUF005 - numba has no starred tuples
    out[: len(rows)] = rows
    return out


@njit(cache=True, nogil=True)
def _code_point(data: np.ndarray, p: int) -> tuple[int, int]:  # pragma: no cover - compiled
    lead = np.int64(data[p])
    if lead < 0x80:
        return lead, 1
    size = 4 if lead >= 0xF0 else (3 if lead >= 0xE0 else 2)
    point = lead & (0x7F >> size)
    for k in range(1, size):
        point = (point << 6) | (np.int64(data[p + k]) & 0x3F)
    return point, size


@njit(cache=True, nogil=True)
def text_units(
    data: np.ndarray, offsets: np.ndarray, table: np.ndarray, paragraphs: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The units cleaning classifies, for every UTF-8 text (text i is data[offsets[i]:offsets[i+1]]): its
    non-empty lines, stripped (`str.split("\\n")` then `str.strip()`); or, for a hard-wrapped text when
    `paragraphs` is set (most of its lines are 40+ characters that stop mid-sentence), its paragraphs.

    `table` flags each character as `SPACE` (`str.isspace`), `SENTENCE_END` or `SCRIPT_START`. Returns per text
    the first unit (n + 1 offsets) and whether it is hard-wrapped; per unit its character and byte span (start, end:
    4 columns), its number of words (`len(unit.split())`) and its `UNIT_*` flags. ASCII lines are measured on their
    bytes, others character by character; a wrapped text's paragraphs in a pass of their own over its characters."""
    n = len(offsets) - 1
    first = np.zeros(n + 1, dtype=np.int64)
    wrapped = np.zeros(n, dtype=np.bool_)
    spans = np.empty((16 * n + 16, 4), dtype=np.int64)  # grown as needed: a text has a unit per line at most
    words = np.empty(len(spans), dtype=np.int32)
    flags = np.zeros(len(spans), dtype=np.uint8)
    points = np.empty(0, dtype=np.int64)
    bytes_at = np.empty(1, dtype=np.int64)
    u = 0
    for i in range(n):
        base, end = offsets[i], offsets[i + 1]
        start_u, long_open = u, 0
        if len(spans) - u < end - base + 1:
            size = max(2 * len(spans), u + end - base + 1)
            spans, words, flags = _grown(spans, size), _grown(words, size), _grown(flags, size)
        p, c = base, 0
        while True:
            q, high, count, before, script = p, 0, 0, 1, False
            while q < end and data[q] != 10:  # the line's end, whether it is ASCII, and its words if so
                byte = data[q]
                high |= byte
                kind = table[byte]
                space = kind & SPACE
                count += before & (space ^ 1)  # a word starts
                before = space
                if kind & SCRIPT_START:  # a word cannot hold a line break: one found from here lies in the line
                    script |= _script_word_at(data, q, end)
                q += 1
            if high < 0x80:
                a, b, unit_flags = _ascii_line(data, p, q, table)
                char_a, char_b, chars = c + a - p, c + b - p, q - p
            else:
                char_a, char_b, a, b, count, unit_flags, chars = _unicode_line(data, p, q, table)
                char_a, char_b = c + char_a, c + char_b
            if b > a:
                spans[u, 0], spans[u, 1], spans[u, 2], spans[u, 3] = char_a, char_b, a - base, b - base
                words[u], flags[u] = count, unit_flags | (UNIT_MAYBE_SCRIPT if script else 0)
                if char_b - char_a >= 40 and (unit_flags & UNIT_ENDS_SENTENCE) == 0:
                    long_open += 1
                u += 1
            c += chars + 1
            if q >= end:
                break
            p = q + 1
        lines = u - start_u
        wrapped[i] = lines >= 2 and long_open >= 0.3 * lines
        if wrapped[i] and paragraphs:
            if len(points) < end - base + 1:
                points = np.empty(end - base + 1, dtype=np.int64)
                bytes_at = np.empty(end - base + 2, dtype=np.int64)
            nc = _decoded(data, base, end, points, bytes_at)
            u = _paragraphs(points, nc, table, spans, start_u)
            for k in range(start_u, u):
                a, b = spans[k, 0], spans[k, 1]
                count, inside, high, first_paren = 0, 0, 0, -1
                for c in range(a, b):
                    space = table[points[c]] & SPACE if points[c] < len(table) else 0
                    count += (1 - space) & (1 - inside)
                    inside = 1 - space
                    high |= points[c]
                    if points[c] == 40 and first_paren < 0:
                        first_paren = c
                words[k] = count
                flags[k] = _unit_flags(table, points[b - 1], first_paren, a, high)
                spans[k, 2], spans[k, 3] = bytes_at[a] - base, bytes_at[b] - base
                for p in range(base + spans[k, 2], base + spans[k, 3]):
                    if table[data[p]] & SCRIPT_START and _script_word_at(data, p, base + spans[k, 3]):
                        flags[k] |= UNIT_MAYBE_SCRIPT
                        break
        first[i + 1] = u
    return first, wrapped, spans[:u], words[:u], flags[:u]


@njit(cache=True, nogil=True)
def _stripped_bytes(
    data: np.ndarray, p: int, q: int, high: int, table: np.ndarray
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The byte span of data[p:q] (one line, `high` its bytes OR-ed) without the spaces `str.strip` removes."""
    if high < 0x80:
        a, b, _ = _ascii_line(data, p, q, table)
        return a, b
    char_a, _, a, b, _, _, _ = _unicode_line(data, p, q, table)
    return (a, b) if char_a >= 0 else (q, q)


@njit(cache=True, nogil=True)
def edge_line_spans(
    data: np.ndarray, offsets: np.ndarray, n: int, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The first and the last `n` non-empty stripped lines of every UTF-8 text, each once (`str.split("\\n")`, then
    `str.strip()`), read from the two ends of the text only. Returns per text its first line (n + 1 offsets) and
    per line its byte span in `data` (start, end) and its number of spaces."""
    texts = len(offsets) - 1
    first = np.zeros(texts + 1, dtype=np.int64)
    starts = np.empty(2 * n * texts, dtype=np.int64)
    ends = np.empty(2 * n * texts, dtype=np.int64)
    spaces = np.empty(2 * n * texts, dtype=np.int64)
    u = 0
    for i in range(texts):
        end = offsets[i + 1]
        p, found = offsets[i], 0
        while p <= end and found < n:
            q, high, count = p, 0, 0
            while q < end and data[q] != 10:
                high |= data[q]
                count += data[q] == 32
                q += 1
            a, b = _stripped_bytes(data, p, q, high, table)
            if a < b:
                starts[u], ends[u], spaces[u] = a, b, count - _spaces(data, p, a) - _spaces(data, b, q)
                u += 1
                found += 1
            p = q + 1
        head_end, q, found = p, end, 0  # the tail: lines from the end back to the first one the head did not read
        while q >= head_end and found < n:
            p, high, count = q, 0, 0
            while p > head_end and data[p - 1] != 10:
                p -= 1
                high |= data[p]
                count += data[p] == 32
            a, b = _stripped_bytes(data, p, q, high, table)
            if a < b:
                starts[u], ends[u], spaces[u] = a, b, count - _spaces(data, p, a) - _spaces(data, b, q)
                u += 1
                found += 1
            q = p - 1
        for column in (starts, ends, spaces):  # the tail was read backwards
            column[u - found : u] = column[u - found : u][::-1].copy()
        first[i + 1] = u
    return first, starts[:u].copy(), ends[:u].copy(), spaces[:u].copy()


@njit(cache=True, nogil=True)
def _spaces(data: np.ndarray, p: int, q: int) -> int:  # pragma: no cover - compiled
    count = 0
    for k in range(p, q):
        count += data[k] == 32
    return count


# Quotation styles of `quote_spans`: opening mark, closing marks (the second -1 where only one closes), whether a
# line break ends the attempt, fewest characters between the marks. (`normalize._QUOTED` states the same styles.)
QUOTE_STYLES = np.array(
    [
        [0x22, 0x22, -1, 1, 12],  # "…"
        [0x201C, 0x201D, -1, 1, 12],  # “…”
        [0xAB, 0xBB, -1, 1, 12],  # «…»
        [0x201E, 0x201C, 0x201D, 1, 12],  # „…“ or „…”
        [0x2018, 0x2019, -1, 1, 12],  # ‘…’
        [0x2039, 0x203A, -1, 1, 12],  # ‹…›
        [0x300C, 0x300D, -1, 0, 6],  # 「…」
        [0x300E, 0x300F, -1, 0, 6],  # 『…』
    ],
    dtype=np.int64,
)


@njit(cache=True, nogil=True)
def quote_spans(
    data: np.ndarray, offsets: np.ndarray, styles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The quoted stretches of every UTF-8 text, as a regular expression's successive leftmost matches find them:
    from an opening mark to the first closing mark (or line break, where it ends the attempt) after it, kept when
    enough characters lie between. Returns per text its first value (n + 1 offsets) and the flat character offsets
    start0, end0, start1, end1, ... (int32)."""
    n = len(offsets) - 1
    first = np.zeros(n + 1, dtype=np.int64)
    # A quotation takes 12 bytes at least (「 and 」 are 3 each), so this bound holds; pages never written are never
    # touched. (Growing the array inside the loop would cost numba reference counting on every character.)
    values = np.empty(2 * ((offsets[n] - offsets[0]) // 12 + 1), dtype=np.int32)
    m = 0
    for i in range(n):
        p, c, end = offsets[i], 0, offsets[i + 1]
        while p < end:
            start = p
            while p < end and data[p] < 0x80 and data[p] != 0x22:  # most characters: no mark opens there
                p += 1
            c += p - start  # ASCII bytes: one character each
            if p >= end:
                break
            point, size = _code_point(data, p)
            style = -1
            for s in range(len(styles)):
                if point == styles[s, 0]:
                    style = s
            if style < 0:
                p += size
                c += 1
                continue
            close, other_close, line_ends = styles[style, 1], styles[style, 2], styles[style, 3] != 0
            q, j, closed = p + size, c + 1, False
            while q < end:
                inner, inner_size = _code_point(data, q)
                if inner in (close, other_close):
                    closed = True
                    break
                if inner == 10 and line_ends:
                    break
                q += inner_size
                j += 1
            if closed and j - c - 1 >= styles[style, 4]:
                values[m], values[m + 1] = c, j + 1
                m += 2
                _, close_size = _code_point(data, q)
                p, c = q + close_size, j + 1
            else:
                p += size
                c += 1
        first[i + 1] = m
    return first, values[:m]


# Kinds of a unit in `kept_units`.
PROSE, HEADLINE, CHROME = 0, 1, 2


@njit(cache=True, nogil=True)
def kept_units(
    first: np.ndarray, kinds: np.ndarray, opens_lower: np.ndarray, ends_sentence: np.ndarray, wrapped: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Which units of each text stay in its body, and which headlines leave it (and whether above its first prose
    unit), by `normalize.clean`'s rules: a headline opening in lower case after a prose unit that stopped
    mid-sentence is prose; outside hard-wrapped text, a headline leaves the body above the first or below the last
    prose unit, or when no headline is next to it (the unit before the first is the last, as Python indexes)."""
    kinds = kinds.copy()
    keep = np.zeros(len(kinds), dtype=np.bool_)
    dropped = np.zeros(len(kinds), dtype=np.bool_)
    at_top = np.zeros(len(kinds), dtype=np.bool_)
    for d in range(len(first) - 1):
        a, n = first[d], first[d + 1] - first[d]
        for i in range(a + 1, a + n):
            # The rest of a sentence the scraper broke ("…according to" / "a blog post Friday. Spotify").
            if kinds[i] == HEADLINE and opens_lower[i] and kinds[i - 1] == PROSE and not ends_sentence[i - 1]:
                kinds[i] = PROSE
        # A text with no prose at all (a table, a list of results) keeps its lines: they are its content.
        first_prose, last_prose = -1, n - 1
        for i in range(n):
            if kinds[a + i] == PROSE:
                if first_prose < 0:
                    first_prose = i
                last_prose = i
        first_prose = max(first_prose, 0)
        for i in range(n):
            kind = kinds[a + i]
            if kind == CHROME:
                continue
            # Runs of headlines (tables, lists) stay, so no content is lost; hard-wrapped wire text has no page
            # chrome, and its short lines are tables and notes.
            if kind == HEADLINE and not wrapped[d]:
                before = kinds[a + i - 1] if i > 0 else kinds[a + n - 1]
                isolated = before != HEADLINE and (i + 1 >= n or kinds[a + i + 1] != HEADLINE)
                if i < first_prose or i > last_prose or isolated:
                    dropped[a + i] = True
                    at_top[a + i] = i < first_prose
                    continue
            keep[a + i] = True
    return keep, dropped, at_top


@njit(cache=True, nogil=True)
def joined_pieces(
    data: np.ndarray, offsets: np.ndarray, first: np.ndarray, keep: np.ndarray, spans: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Each text's kept pieces joined by newlines: the body's bytes and int32 offsets (an Arrow string array's
    buffers), and the body map: per text its first piece (n + 1 offsets), per piece (body start, text start,
    length) in characters. spans[k] is piece k's (character start, end, byte start, byte end) in its text."""
    n = len(first) - 1
    out = np.empty(offsets[n] - offsets[0] + n, dtype=np.uint8)
    body_offsets = np.zeros(n + 1, dtype=np.int32)
    map_first = np.zeros(n + 1, dtype=np.int64)
    pieces = np.empty((len(keep), 3), dtype=np.int32)
    at, m = 0, 0
    for d in range(n):
        cursor = 0
        for k in range(first[d], first[d + 1]):
            if not keep[k]:
                continue
            if cursor:
                out[at] = 10
                at += 1
            size = spans[k, 3] - spans[k, 2]
            out[at : at + size] = data[offsets[d] + spans[k, 2] : offsets[d] + spans[k, 3]]
            at += size
            pieces[m, 0], pieces[m, 1], pieces[m, 2] = cursor, spans[k, 0], spans[k, 1] - spans[k, 0]
            cursor += spans[k, 1] - spans[k, 0] + 1
            m += 1
        body_offsets[d + 1] = at
        map_first[d + 1] = m
    return out[:at], body_offsets, map_first, pieces[:m]


@njit(cache=True, nogil=True)
def gathered_bytes(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """data[starts[i]:ends[i]] for every i, packed one after another: the buffers of an Arrow string array."""
    out_offsets = np.zeros(len(starts) + 1, dtype=np.int32)
    for i in range(len(starts)):
        out_offsets[i + 1] = out_offsets[i] + ends[i] - starts[i]
    out = np.empty(out_offsets[-1], dtype=np.uint8)
    for i in range(len(starts)):
        out[out_offsets[i] : out_offsets[i + 1]] = data[starts[i] : ends[i]]
    return out, out_offsets


# How far around a mention `alias_mentions` reaches, in characters: the context credit cues are read in, with
# one character more on each side for the word-boundary test.
MENTION_BEFORE = 81
MENTION_AFTER = 41
# Each mention's row in `alias_mentions`' output.
M_TEXT, M_CHAR_START, M_CHAR_END, M_ALIAS, M_WINDOW_START, M_WINDOW_END, M_WINDOW_CHAR = range(7)


@njit(cache=True, nogil=True, inline="always")
def _may_open_alias(filters: np.ndarray, key: int, four: int, whole: bool) -> bool:  # pragma: no cover - compiled
    """Whether an alias may start where `key` holds the next two bytes and `four` the next four (`whole`: four
    bytes are left in the string; when not, only an alias shorter than 4 bytes fits). See `alias_filters`."""
    short = (filters[key >> 6] >> np.uint64(key & 63)) & np.uint64(1)
    slot = (1 << 16) + _prefix_slot(four)
    long = (filters[slot >> 6] >> np.uint64(slot & 63)) & np.uint64(1)
    return (short | (long * np.uint64(whole))) != 0


@njit(cache=True, nogil=True, inline="always")
def _prefix_slot(four: int) -> int:  # pragma: no cover - compiled
    """The bit of `alias_mentions`' prefix filter for four bytes read as one number (Fibonacci hashing, 16 bits)."""
    return np.int64(((np.uint64(four) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)) >> np.uint64(16))


def alias_filters(aliases: list[bytes]) -> np.ndarray:
    """`alias_mentions`' filters of these aliases (each at least 2 bytes), two bitmaps of 2**16 bits (8 KB each, in
    the L1 cache) end to end: the first flags the first two bytes of those shorter than 4, the second the hashed
    first four of the others."""
    filters = np.zeros(2 << 10, dtype=np.uint64)
    for alias in aliases:
        if len(alias) < 4:
            bit = (alias[0] << 8) | alias[1]
        else:
            bit = (1 << 16) + int(_prefix_slot(int.from_bytes(alias[:4], "big")))
        filters[bit >> 6] |= np.uint64(1 << (bit & 63))
    return filters


@njit(cache=True, nogil=True)
def alias_mentions(
    data: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray,
    filters: np.ndarray,
    heads: np.ndarray,
    chain: np.ndarray,
    alias_data: np.ndarray,
    alias_offsets: np.ndarray,
    out: np.ndarray,
    resume: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """The aliases written in UTF-8 strings (string i is data[offsets[i]:offsets[i+1]]; strings not `valid` are
    skipped) as an alternation of literals finds them: at the leftmost position where any matches, the longest,
    then on from its end.

    Aliases are alias_data[alias_offsets[k]:alias_offsets[k+1]], at least 2 bytes. `filters` (see `alias_filters`)
    rule out nearly every position without a branch: the first two bytes of an alias shorter than 4, or the first
    four of a longer one (a two-byte test alone let common pairs such as "in" and "re" through at 6% of positions).
    heads[the first two bytes as one 16-bit number] is the longest alias opening so and chain[k] the next (-1 ends
    a list). Each mention fills a row of `out` (see the M_ columns): its string, its character span, its alias, and
    the byte span and first character of the window of MENTION_BEFORE / MENTION_AFTER characters around it.
    Scanning starts at the string, byte and character count in `resume` and, when `out` is full, stops there,
    writing them back for the next call (string == len(offsets) - 1: done). Returns the rows filled."""
    n_strings = len(offsets) - 1
    found = 0
    i, p, chars = resume[0], resume[1], resume[2]
    while i < n_strings:
        end = offsets[i + 1]
        counted = p  # `chars` counts the characters before this byte
        while valid[i] and p + 1 < end:
            key = (np.int64(data[p]) << 8) | np.int64(data[p + 1])
            four = (key << 16) | ((np.int64(data[p + 2]) << 8) | np.int64(data[p + 3]) if p + 3 < end else 0)
            # Characters are counted where a mention needs the count; a tight loop runs to the next possible one
            # while four bytes are left (no test of the string's end inside it).
            while p + 4 < end and not _may_open_alias(filters, key, four, True):
                p += 1
                key = ((key << 8) | np.int64(data[p + 1])) & 0xFFFF
                four = ((four << 8) | np.int64(data[p + 3])) & 0xFFFFFFFF
            if _may_open_alias(filters, key, four, p + 3 < end):
                matched = -1
                k = heads[key]
                while k >= 0:
                    a, b = alias_offsets[k], alias_offsets[k + 1]
                    if p + b - a <= end:
                        same = True
                        for q in range(2, b - a):
                            if data[p + q] != alias_data[a + q]:
                                same = False
                                break
                        if same:
                            matched = k
                            break
                    k = chain[k]
                if matched >= 0:
                    for r in range(counted, p):
                        chars += (data[r] & 0xC0) != 0x80
                    counted = p
                    if found == len(out):
                        resume[0], resume[1], resume[2] = i, p, chars
                        return found
                    q = p + alias_offsets[matched + 1] - alias_offsets[matched]
                    length = 0
                    for r in range(p, q):
                        length += (data[r] & 0xC0) != 0x80
                    # Windows by bytes (a character takes at most 4), moved onto character boundaries.
                    start = max(offsets[i], p - 4 * MENTION_BEFORE)
                    while start < p and (data[start] & 0xC0) == 0x80:
                        start += 1
                    stop = min(end, q + 4 * MENTION_AFTER)
                    while stop < end and (data[stop] & 0xC0) == 0x80:
                        stop -= 1
                    before = 0
                    for r in range(start, p):
                        before += (data[r] & 0xC0) != 0x80
                    out[found, M_TEXT], out[found, M_ALIAS] = i, matched
                    out[found, M_CHAR_START], out[found, M_CHAR_END] = chars, chars + length
                    out[found, M_WINDOW_START], out[found, M_WINDOW_END] = start, stop
                    out[found, M_WINDOW_CHAR] = chars - before
                    found += 1
                    chars += length
                    p = counted = q
                    continue
            p += 1
        i += 1
        if i < n_strings:
            p, chars = offsets[i], 0
    resume[0], resume[1], resume[2] = i, p, chars
    return found


@njit(cache=True, nogil=True)
def packed_by_document(shingles: np.ndarray, offsets: np.ndarray, keep_bits: int) -> np.ndarray:  # pragma: no cover
    """Each shingle's top `keep_bits` bits under its document's index (document i owns
    shingles[offsets[i]:offsets[i+1]]): sorted as one array, these group by document, then by value."""
    n = len(offsets) - 1
    out = np.empty(offsets[n] - offsets[0], dtype=np.uint64)
    drop = np.uint64(64 - keep_bits)
    at = 0
    for d in range(n):
        top = np.uint64(d) << np.uint64(keep_bits)
        for k in range(offsets[d], offsets[d + 1]):
            out[at] = top | (shingles[k] >> drop)
            at += 1
    return out


@njit(cache=True, nogil=True)
def distinct_by_document(
    packed: np.ndarray, n_docs: int, keep_bits: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The distinct values of sorted `packed_by_document` output, without their document bits, with each
    document's offsets."""
    out = np.empty(len(packed), dtype=np.uint64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    mask = np.uint64((1 << keep_bits) - 1)
    at = 0
    for k in range(len(packed)):
        if k == 0 or packed[k] != packed[k - 1]:
            out[at] = packed[k] & mask
            offsets[np.int64(packed[k] >> np.uint64(keep_bits)) + 1] += 1
            at += 1
    for d in range(n_docs):
        offsets[d + 1] += offsets[d]
    return out[:at], offsets


# XXH3's default secret (xxhash.h, `XXH3_kSecret`): the hash of every token is XXH3-64 with seed 0, bit for bit,
# because token hashes are stored in history and compared across versions.
XXH3_SECRET = np.frombuffer(
    bytes.fromhex(
        "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
        "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
        "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
        "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
        "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
        "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
    ),
    dtype=np.uint8,
)  # read-only, as bytes are
_P32_1 = np.uint64(0x9E3779B1)
_P32_2 = np.uint64(0x85EBCA77)
_P32_3 = np.uint64(0xC2B2AE3D)
_P64_1 = np.uint64(0x9E3779B185EBCA87)
_P64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P64_3 = np.uint64(0x165667B19E3779F9)
_P64_4 = np.uint64(0x85EBCA77C2B2AE63)
_P64_5 = np.uint64(0x27D4EB2F165667C5)
_MX1 = np.uint64(0x165667919E3779F9)
_MX2 = np.uint64(0x9FB21C651E98DF25)
_LOW32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _little_endian(data: np.ndarray, at: int, size: int) -> np.uint64:  # pragma: no cover - compiled
    """data[at : at + size] read as a little-endian number (size <= 8)."""
    out = np.uint64(0)
    for k in range(size):
        out |= np.uint64(data[at + k]) << np.uint64(8 * k)
    return out


@njit(cache=True, nogil=True, inline="always")
def _le64(data: np.ndarray, at: int) -> np.uint64:  # pragma: no cover - compiled
    return _little_endian(data, at, 8)


@njit(cache=True, nogil=True, inline="always")
def _le32(data: np.ndarray, at: int) -> np.uint64:  # pragma: no cover - compiled
    return _little_endian(data, at, 4)


@njit(cache=True, nogil=True, inline="always")
def _mul128_fold64(a: np.uint64, b: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """The 128-bit product of a and b, its two halves xor-ed (from 32-bit halves: numba has no 128-bit type)."""
    a_lo, a_hi, b_lo, b_hi = a & _LOW32, a >> np.uint64(32), b & _LOW32, b >> np.uint64(32)
    lo_lo, hi_lo, lo_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & _LOW32) + lo_hi
    upper = (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32)) + a_hi * b_hi
    return ((cross << np.uint64(32)) | (lo_lo & _LOW32)) ^ upper


@njit(cache=True, nogil=True, inline="always")
def _avalanche64(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    h ^= h >> np.uint64(33)
    h *= _P64_2
    h ^= h >> np.uint64(29)
    h *= _P64_3
    return h ^ (h >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _avalanche3(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    h ^= h >> np.uint64(37)
    h *= _MX1
    return h ^ (h >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def _rotl64(h: np.uint64, r: int) -> np.uint64:  # pragma: no cover - compiled
    return (h << np.uint64(r)) | (h >> np.uint64(64 - r))


def _secret_word(at: int, size: int = 8) -> np.uint64:
    return np.uint64(int.from_bytes(XXH3_SECRET[at : at + size].tobytes(), "little"))


# The secret's words each input length reads (numba compiles module globals in as constants).
_FLIP_0 = _secret_word(56) ^ _secret_word(64)
_FLIP_3 = _secret_word(0, 4) ^ _secret_word(4, 4)
_FLIP_8 = _secret_word(8) ^ _secret_word(16)
_FLIP_16_LOW = _secret_word(24) ^ _secret_word(32)
_FLIP_16_HIGH = _secret_word(40) ^ _secret_word(48)


@njit(cache=True, nogil=True, inline="always")
def _mix16(data: np.ndarray, at: int, secret: np.ndarray, key: int) -> np.uint64:  # pragma: no cover - compiled
    return _mul128_fold64(_le64(data, at) ^ _le64(secret, key), _le64(data, at + 8) ^ _le64(secret, key + 8))


@njit(cache=True, nogil=True)
def _xxh3_mid(data: np.ndarray, start: int, length: int, secret: np.ndarray) -> np.uint64:  # pragma: no cover
    """XXH3-64 of 129 to 240 bytes."""
    acc = np.uint64(length) * _P64_1
    for i in range(8):
        acc += _mix16(data, start + 16 * i, secret, 16 * i)
    acc = _avalanche3(acc)
    acc_end = _mix16(data, start + length - 16, secret, 136 - 17)
    for i in range(8, length // 16):
        acc_end += _mix16(data, start + 16 * i, secret, 16 * (i - 8) + 3)
    return _avalanche3(acc + acc_end)


@njit(cache=True, nogil=True)
def _xxh3_stripe(acc: np.ndarray, data: np.ndarray, at: int, secret: np.ndarray, key: int) -> None:  # pragma: no cover
    for lane in range(8):
        value = _le64(data, at + 8 * lane)
        keyed = value ^ _le64(secret, key + 8 * lane)
        acc[lane ^ 1] += value
        acc[lane] += (keyed & _LOW32) * (keyed >> np.uint64(32))


@njit(cache=True, nogil=True)
def _xxh3_long(data: np.ndarray, start: int, length: int, secret: np.ndarray) -> np.uint64:  # pragma: no cover
    """XXH3-64 of more than 240 bytes: stripes of 64 bytes into eight accumulators, scrambled after each block of
    16 stripes (the 192-byte default secret)."""
    acc = np.array([_P32_3, _P64_1, _P64_2, _P64_3, _P64_4, _P32_2, _P64_5, _P32_1], dtype=np.uint64)
    blocks = (length - 1) // 1024
    for n in range(blocks):
        for stripe in range(16):
            _xxh3_stripe(acc, data, start + 1024 * n + 64 * stripe, secret, 8 * stripe)
        for lane in range(8):
            value = acc[lane]
            value ^= value >> np.uint64(47)
            value ^= _le64(secret, 128 + 8 * lane)
            acc[lane] = value * _P32_1
    for stripe in range(((length - 1) - 1024 * blocks) // 64):
        _xxh3_stripe(acc, data, start + 1024 * blocks + 64 * stripe, secret, 8 * stripe)
    _xxh3_stripe(acc, data, start + length - 64, secret, 192 - 64 - 7)
    result = np.uint64(length) * _P64_1
    for i in range(4):
        result += _mul128_fold64(acc[2 * i] ^ _le64(secret, 11 + 16 * i), acc[2 * i + 1] ^ _le64(secret, 19 + 16 * i))
    return _avalanche3(result)


@njit(cache=True, nogil=True)
def xxh3_64(data: np.ndarray, start: int, length: int, secret: np.ndarray) -> np.uint64:  # pragma: no cover
    """XXH3-64 (seed 0) of data[start : start + length], as xxhash.h computes it: a path per length class (0,
    1-3, 4-8, 9-16, 17-128, 129-240 bytes, longer)."""
    if length > 240:
        return _xxh3_long(data, start, length, secret)
    if length > 128:
        return _xxh3_mid(data, start, length, secret)
    return _xxh3_short(data, start, length, secret)


@njit(cache=True, nogil=True, inline="always")
def _xxh3_short(data: np.ndarray, start: int, length: int, secret: np.ndarray) -> np.uint64:  # pragma: no cover
    """XXH3-64 of at most 128 bytes (inlined where tokens are hashed: the longer paths in line made it 4x
    slower)."""
    if length == 0:
        return _avalanche64(_FLIP_0)
    if length <= 3:
        c1, c2, c3 = np.uint64(data[start]), np.uint64(data[start + (length >> 1)]), np.uint64(data[start + length - 1])
        combined = (c1 << np.uint64(16)) | (c2 << np.uint64(24)) | c3 | (np.uint64(length) << np.uint64(8))
        return _avalanche64(combined ^ _FLIP_3)
    if length <= 8:
        keyed = (_le32(data, start + length - 4) + (_le32(data, start) << np.uint64(32))) ^ _FLIP_8
        keyed ^= _rotl64(keyed, 49) ^ _rotl64(keyed, 24)
        keyed *= _MX2
        keyed ^= (keyed >> np.uint64(35)) + np.uint64(length)
        keyed *= _MX2
        return keyed ^ (keyed >> np.uint64(28))
    if length <= 16:
        low = _le64(data, start) ^ _FLIP_16_LOW
        high = _le64(data, start + length - 8) ^ _FLIP_16_HIGH
        swapped = np.uint64(0)
        for k in range(8):  # the byte order of `low` reversed
            swapped |= ((low >> np.uint64(8 * k)) & np.uint64(0xFF)) << np.uint64(56 - 8 * k)
        return _avalanche3(np.uint64(length) + swapped + high + _mul128_fold64(low, high))
    acc = np.uint64(length) * _P64_1
    for i in range((length - 1) // 32, -1, -1):
        acc += _mix16(data, start + 16 * i, secret, 32 * i)
        acc += _mix16(data, start + length - 16 * (i + 1), secret, 32 * i + 16)
    return _avalanche3(acc)


@njit(cache=True, nogil=True)
def xxh3_strings(
    data: np.ndarray, offsets: np.ndarray, as_is: np.ndarray, secret: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """XXH3-64 of the bytes of each string data[offsets[i]:offsets[i+1]] that is ASCII, and which strings are not
    (their hash is left 0 for the caller: their matching form needs Python). `as_is[i]` says string i is known to be
    ASCII (a token of an ASCII text): checking every token's bytes cost as much as hashing it.

    Hashing every token here spares building a dictionary of the batch's tokens to hash each distinct one in
    Python."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.uint64)
    other = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start, end = offsets[i], offsets[i + 1]
        if not as_is[i]:
            high = 0
            for p in range(start, end):
                high |= data[p]
            if high >= 128:
                other[i] = True
                continue
        length = end - start
        out[i] = _xxh3_short(data, start, length, secret) if length <= 128 else xxh3_64(data, start, length, secret)
    return out, other


@njit(cache=True, nogil=True)
def spaced_token_hashes(
    data: np.ndarray, offsets: np.ndarray, skip: np.ndarray, ascii_strings: np.ndarray, secret: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """The tokens of UTF-8 strings whose tokens are separated by single-byte spaces (string i is
    data[offsets[i]:offsets[i+1]]; strings flagged in `skip` yield none), hashed where they lie: XXH3-64 of each
    ASCII token's bytes (already its matching form, see `normalize.body_tokens`).

    Returns the token count per string, each token's character start and end in its string, its hash, the indices
    of the other tokens (non-ASCII: hash 0, their matching form needs Python), and those tokens' bytes packed end to
    end with their offsets (an Arrow string array's buffers). Characters are counted as UTF-8 lead bytes, so offsets
    are code-point offsets as Python and Arrow count them; in strings known ASCII (`ascii_strings`) they are byte
    offsets, and those tokens are hashed without a test of their bytes. Splitting and hashing in one pass spares
    copying every token out to hash it afterwards."""
    n_strings = len(offsets) - 1
    total = offsets[n_strings] - offsets[0]
    most = total // 2 + 1 + n_strings
    counts = np.zeros(n_strings, dtype=np.int64)
    # Sized for the most tokens the bytes could hold, never zeroed (see the module's note on views).
    starts = np.empty(most, dtype=np.int32)
    ends = np.empty(most, dtype=np.int32)
    hashes = np.empty(most, dtype=np.uint64)
    other_at = np.empty(0 if ascii_strings.all() else most, dtype=np.int64)
    packed = np.empty(0 if ascii_strings.all() else total, dtype=np.uint8)
    packed_offsets = np.empty(len(other_at) + 1, dtype=np.int32)
    packed_offsets[0] = 0
    n, n_other, used = 0, 0, 0
    for i in range(n_strings):
        if skip[i]:
            continue
        lo, hi = offsets[i], offsets[i + 1]
        first = n
        if ascii_strings[i]:
            p = lo
            while p < hi:
                while p < hi and data[p] == 32:
                    p += 1
                if p >= hi:
                    break
                start = p
                while p < hi and data[p] != 32:
                    p += 1
                length = p - start
                starts[n], ends[n] = start - lo, p - lo
                # The short path in line and the rest called: in line, the long paths made this loop 4x slower (and
                # so did calling a function holding both).
                hashes[n] = (
                    _xxh3_short(data, start, length, secret) if length <= 128 else xxh3_64(data, start, length, secret)
                )
                n += 1
            counts[i] = n - first
            continue
        chars, start, high = 0, -1, 0
        for p in range(lo, hi + 1):
            byte = data[p] if p < hi else 32  # a space after the last byte ends the last token
            if byte != 32:
                if start < 0:
                    start, high = p, 0
                    starts[n] = chars
                high |= byte
            elif start >= 0:
                ends[n] = chars
                length = p - start
                if high < 0x80:
                    hashes[n] = (
                        _xxh3_short(data, start, length, secret)
                        if length <= 128
                        else xxh3_64(data, start, length, secret)
                    )
                else:
                    hashes[n] = 0
                    other_at[n_other] = n
                    packed[used : used + length] = data[start:p]
                    used += length
                    n_other += 1
                    packed_offsets[n_other] = used
                n += 1
                start = -1
            if byte & 0xC0 != 0x80:
                chars += 1
        counts[i] = n - first
    return (
        counts,
        starts[:n],
        ends[:n],
        hashes[:n],
        other_at[:n_other].copy(),
        packed[:used].copy(),
        packed_offsets[: n_other + 1].copy(),
    )


@njit(cache=True, nogil=True, inline="always")
def _fmix32(value: np.uint64) -> np.uint32:  # pragma: no cover - compiled
    """MurmurHash3's 32-bit finalizer of the low 32 bits of `value`, as datasketch applies it before the affine32
    permutations (in 64-bit registers, cut back to 32 bits after each product: numba widens 32-bit arithmetic)."""
    low = np.uint64(0xFFFFFFFF)
    h = value & low
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & low
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & low
    return np.uint32(h ^ (h >> np.uint64(16)))


@njit(cache=True, nogil=True)
def minhash_signatures(
    shingles: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """(documents x len(a)) minima of (a[k] * x + b[k]) mod 2**32 over each document's 32-bit hashes x: the low 32
    bits of its shingle hashes through `_fmix32` (document i owns shingles[offsets[i]:offsets[i+1]]); documents
    without hashes keep 2**32-1. One pass over the hashes with the signature row in cache, instead of one pass over
    all hashes per permutation.

    Four hashes go through each pass over the row: the row and the parameters are loaded and stored once per four
    hashes, not per hash (30% faster)."""
    n_docs = len(offsets) - 1
    n_perm = len(a)
    out = np.full((n_docs, n_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for d in range(n_docs):
        row = out[d]
        s, end = offsets[d], offsets[d + 1]
        while s + 4 <= end:
            x0, x1 = _fmix32(shingles[s]), _fmix32(shingles[s + 1])
            x2, x3 = _fmix32(shingles[s + 2]), _fmix32(shingles[s + 3])
            for k in range(n_perm):
                # Truncated to 32 bits, the product needs only a 32-bit multiply: eight permutations per SIMD step.
                ak, bk = a[k], b[k]
                low = min(np.uint32(ak * x0 + bk), np.uint32(ak * x1 + bk))
                high = min(np.uint32(ak * x2 + bk), np.uint32(ak * x3 + bk))
                row[k] = min(row[k], min(low, high))
            s += 4
        for t in range(s, end):
            x = _fmix32(shingles[t])
            for k in range(n_perm):
                row[k] = min(row[k], np.uint32(a[k] * x + b[k]))
    return out


@njit(cache=True, nogil=True)
def shifted_offsets(
    positions: np.ndarray,
    position_offsets: np.ndarray,
    piece_offsets: np.ndarray,
    piece_from: np.ndarray,
    piece_to: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Each position moved from the piece of its document it falls in to where that piece sits elsewhere:
    document i owns positions[position_offsets[i]:position_offsets[i+1]] (ascending) and pieces
    piece_offsets[i]:piece_offsets[i+1] (ascending `piece_from` starts, mapped to `piece_to` starts).
    One merge walk per document."""
    out = np.empty(len(positions), dtype=np.int32)
    for d in range(len(position_offsets) - 1):
        piece = piece_offsets[d]
        last = piece_offsets[d + 1] - 1
        for t in range(position_offsets[d], position_offsets[d + 1]):
            x = positions[t]
            while piece < last and piece_from[piece + 1] <= x:
                piece += 1
            if piece <= last:
                out[t] = piece_to[piece] + x - piece_from[piece]
            else:
                out[t] = x
    return out


@njit(cache=True, nogil=True)
def shingle_hashes(
    values: np.ndarray, offsets: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """64-bit hashes of every k-token window of each document (document i owns values[offsets[i]:offsets[i+1]];
    a document shorter than k has one window of all its tokens, an empty one none), with per-document offsets.

    A window's hash is the polynomial h = h * 0x9E3779B97F4A7C15 + token over its tokens (mod 2**64), passed once
    through MurmurHash3's 64-bit finalizer."""
    n_docs = len(offsets) - 1
    shingle_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        n = offsets[d + 1] - offsets[d]
        shingle_offsets[d + 1] = shingle_offsets[d] + (n - k + 1 if n >= k else min(n, 1))
    out = np.empty(shingle_offsets[n_docs], dtype=np.uint64)
    golden = np.uint64(0x9E3779B97F4A7C15)
    for d in range(n_docs):
        first, n = offsets[d], offsets[d + 1] - offsets[d]
        width = k if n >= k else n
        for s in range(shingle_offsets[d + 1] - shingle_offsets[d]):
            h = np.uint64(0)
            for j in range(width):
                h = h * golden + values[first + s + j]
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xC4CEB9FE1A85EC53)
            h ^= h >> np.uint64(33)
            out[shingle_offsets[d] + s] = h
    return out, shingle_offsets


def warm_up() -> float:
    """Load every kernel for the argument types the pipeline passes (Arrow-backed read-only arrays, int32 list
    offsets), returning the seconds it took: numba's first call in a process costs ~0.4 s even from its disk
    cache, which benchmarks report apart from per-document time."""
    import time

    start = time.perf_counter()
    values = np.zeros(2, dtype=np.uint64)
    values.flags.writeable = False
    offsets = np.array([0, 1, 2], dtype=np.int32)
    offsets.flags.writeable = False
    rows = np.zeros(1, dtype=np.int64)
    intersection_sizes(values, offsets, rows, values, offsets, rows)
    intersection_bounds(values, offsets, rows, values, offsets, rows)
    code_points(values)
    for dtype in (np.uint64, np.int32):  # hashes (shingles, tokens); character offsets and quotes
        source = values.astype(dtype)
        source.flags.writeable = False  # Arrow buffers
        copy_segments(source, rows, rows + 1, np.zeros(2, dtype=dtype), rows)
    keys = np.zeros((1, 2), dtype=np.uint64)
    keys.flags.writeable = False  # band keys read from Parquet
    band_matches(keys, np.zeros(4, dtype=np.bool_), np.zeros((2, 1), dtype=np.uint64), np.zeros((2, 1), np.int64), 1)
    pairs_within_runs(np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    sampled_entries(values, offsets, 4)
    packed_samples(values, offsets, 4, 0, 24, np.zeros(3, dtype=np.uint64), 0)
    group_starts, group_ends, headed = shared_value_groups(np.zeros(2, dtype=np.uint64), 24, 1, 2)
    packed = np.zeros(2, dtype=np.uint64)  # packed entries: written by the caller, so writable
    repeated_codes(np.sort(pairs_headed_by(packed, 24, group_starts, group_ends, 1, 0, 1, int(headed.sum()))), 2)
    signatures = np.zeros((1, 2), dtype=np.uint32)
    stored = signatures.copy()
    stored.flags.writeable = False  # signatures read from Parquet
    for left in (signatures, stored):
        for right in (signatures, stored):
            signature_agreements(left, rows, right, rows)
    data = np.frombuffer(b"a b", dtype=np.uint8)  # Arrow buffers arrive read-only
    for text in (data, data.copy()):  # Arrow's read-only buffers, and bytes built in numpy
        translated_bytes(text, np.zeros(256, dtype=np.uint8))
    text_offsets = np.frombuffer(np.array([0, 3], dtype=np.int32).tobytes(), dtype=np.int32)
    first, wrapped, spans, _, flags = text_units(data, text_offsets, np.zeros(128, dtype=np.uint8), True)
    gathered_bytes(data, spans[:, 2].copy(), spans[:, 3].copy())
    kept = kept_units(first, flags, wrapped, wrapped, wrapped)[0]
    joined_pieces(data, text_offsets, first, kept, spans)
    edge_line_spans(data, text_offsets, 4, np.zeros(128, dtype=np.uint8))
    quote_spans(data, text_offsets, QUOTE_STYLES)
    spaced_token_hashes(data, text_offsets, np.zeros(1, dtype=bool), np.ones(1, dtype=bool), XXH3_SECRET)
    spaced_token_hashes(data, text_offsets, np.zeros(1, dtype=bool), np.zeros(1, dtype=bool), XXH3_SECRET)
    xxh3_strings(data, text_offsets, np.zeros(1, dtype=np.bool_), XXH3_SECRET)
    from pipeline import credits  # the gazetteer's lookup tables (no Arrow array: pyarrow's first loads pandas)

    g = credits._gazetteer()
    out, resume, valid = np.empty((1, 7), dtype=np.int64), np.zeros(3, dtype=np.int64), np.ones(1, dtype=np.bool_)
    alias_mentions(data, text_offsets, valid, g.filters, g.heads, g.chain, g.alias_data, g.alias_offsets, out, resume)
    spaced_utf8(data, text_offsets, np.ones(128, dtype=np.uint8))
    permutation = np.ones(2, dtype=np.uint32)
    minhash_signatures(np.ones(2, dtype=np.uint64), np.array([0, 2], dtype=np.int64), permutation, permutation)
    shingle_hashes(np.ones(2, dtype=np.uint64), np.array([0, 2], dtype=np.int64), 5)
    packed = packed_by_document(np.ones(2, dtype=np.uint64), np.array([0, 2], dtype=np.int64), 40)
    distinct_by_document(packed, 1, 40)
    position = np.zeros(1, dtype=np.int32)
    one = np.array([0, 1], dtype=np.int64)
    shifted_offsets(position, one, one, position.astype(np.int64), position.astype(np.int64))
    from pipeline import passages  # the alignment kernels (a module of their own)

    codes = np.zeros(2, dtype=np.int32)  # token code points
    passages.batch_passages(codes, one, rows, codes, one, rows, 8)
    return time.perf_counter() - start
