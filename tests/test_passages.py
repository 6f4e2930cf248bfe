"""The compiled alignment (pipeline/passages.py) against rapidfuzz itself and a plain-Python statement of the
passage rules built on rapidfuzz's alignment."""

import numpy as np
import pytest
from rapidfuzz.distance import Indel

from pipeline import passages


def as_text(codes: np.ndarray) -> str:
    """A code sequence as the string rapidfuzz aligns (code points shifted past the control characters)."""
    return "".join(chr(0x100 + int(c)) for c in codes)


def reference_passages(a: np.ndarray, b: np.ndarray, min_words: int) -> tuple[list[tuple[int, ...]], float]:
    """The passage rules in plain Python over rapidfuzz's own alignment: what `pair_passages` must return."""
    sa, sb = as_text(a), as_text(b)
    blocks = Indel.opcodes(sa, sb).as_matching_blocks()
    similarity = 2 * sum(block.size for block in blocks) / max(1, len(sa) + len(sb))
    found: list[tuple[int, int, int, int]] = []
    free_a, free_b = len(sa), len(sb)
    for step in range(passages.MAX_PASSES):
        if min(free_a, free_b) < min_words:
            break
        if step:
            blocks = Indel.opcodes(sa, sb).as_matching_blocks()
        runs: list[list[int]] = []
        for x, y, size in blocks:
            if size and runs and x - runs[-1][1] <= passages.MAX_GAP and y - runs[-1][3] <= passages.MAX_GAP:
                runs[-1][1], runs[-1][3] = x + size, y + size
                runs[-1][4] += size
                runs[-1][5] = max(runs[-1][5], size)
            elif size:
                runs.append([x, x + size, y, y + size, size, size])
        new = [
            (a0, a1 - 1, b0, b1 - 1)
            for a0, a1, b0, b1, matched, longest in runs
            if matched >= min_words
            and longest >= passages.MIN_RUN
            and matched >= passages.MIN_DENSITY * max(a1 - a0, b1 - b0)
        ]
        if not new:
            break
        found += new
        for a0, a1, b0, b1 in new:
            free_a, free_b = free_a - (a1 - a0 + 1), free_b - (b1 - b0 + 1)
            sa = sa[:a0] + "\x00" * (a1 - a0 + 1) + sa[a1 + 1 :]  # matches nothing on the other side
            sb = sb[:b0] + "\x01" * (b1 - b0 + 1) + sb[b1 + 1 :]
    grown = []
    for a0, a1, b0, b1 in found:
        while a0 > 0 and b0 > 0 and a[a0 - 1] == b[b0 - 1]:
            a0, b0 = a0 - 1, b0 - 1
        while a1 + 1 < len(a) and b1 + 1 < len(b) and a[a1 + 1] == b[b1 + 1]:
            a1, b1 = a1 + 1, b1 + 1
        grown.append((a0, a1, b0, b1))
    return sorted(grown), similarity


def edited_copy(rng: np.random.Generator, story: np.ndarray, vocabulary: int) -> np.ndarray:
    """A copy of `story` as outlets make them: a new lead, paragraphs moved, words substituted, the end cut."""
    pieces = np.array_split(story, int(rng.integers(1, 6)))
    rng.shuffle(pieces)
    copy = np.concatenate([rng.integers(0, vocabulary, size=int(rng.integers(0, 30))), *pieces])
    changed = rng.random(len(copy)) < 0.03
    copy[changed] = rng.integers(0, vocabulary, size=int(changed.sum()))
    return copy[: int(rng.integers(len(copy) // 2, len(copy) + 1))].astype(np.int32)


@pytest.mark.parametrize("vocabulary", [3, 40, 5000])  # many ties, some, nearly none
def test_equal_blocks_are_rapidfuzz_matching_blocks(vocabulary):
    rng = np.random.default_rng(vocabulary)
    for _ in range(300):
        # Lengths across one, two and three 64-bit words, so carries cross words.
        a = rng.integers(0, vocabulary, size=int(rng.integers(0, 200))).astype(np.int32)
        b = edited_copy(rng, a, vocabulary) if rng.random() < 0.7 else rng.integers(0, vocabulary, 150).astype(np.int32)
        want = [(x.a, x.b, x.size) for x in Indel.opcodes(as_text(a), as_text(b)).as_matching_blocks()][:-1]
        assert [tuple(row) for row in passages.equal_blocks(a, b).tolist()] == want


def test_pair_passages_follow_the_passage_rules_over_rapidfuzz_alignment():
    rng = np.random.default_rng(11)
    moved = 0
    for _ in range(300):
        vocabulary = int(rng.choice([30, 300, 3000]))
        story = rng.integers(0, vocabulary, size=int(rng.integers(20, 400))).astype(np.int32)
        copy = edited_copy(rng, story, vocabulary)
        got, similarity = passages.pair_passages(story, copy, 8)
        want, want_similarity = reference_passages(story, copy, 8)
        assert [tuple(p) for p in got.tolist()] == want
        rapidfuzz_similarity = Indel.normalized_similarity(as_text(story), as_text(copy))
        assert similarity == want_similarity == pytest.approx(rapidfuzz_similarity)
        moved += len(want) > 1
    assert moved > 30  # later passes found moved paragraphs, not only the first alignment


def test_batch_passages_equal_each_pair_alone():
    rng = np.random.default_rng(5)
    stories = [rng.integers(0, 500, size=int(rng.integers(0, 300))).astype(np.int32) for _ in range(20)]
    copies = [edited_copy(rng, s, 500) for s in stories]
    offsets_a = np.concatenate([[0], np.cumsum([len(s) for s in stories])]).astype(np.int64)
    offsets_b = np.concatenate([[0], np.cumsum([len(s) for s in copies])]).astype(np.int64)
    rows_a = rng.integers(0, 20, size=60)
    rows_b = np.where(rng.random(60) < 0.5, rows_a, rng.integers(0, 20, size=60))
    similarity, offsets, found = passages.batch_passages(
        np.concatenate(stories), offsets_a, rows_a, np.concatenate(copies), offsets_b, rows_b, 8
    )
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=True)):
        alone, alone_similarity = passages.pair_passages(stories[ra], copies[rb], 8)
        assert np.array_equal(found[offsets[i] : offsets[i + 1]], alone)
        assert similarity[i] == alone_similarity
    assert len(found) > 20
