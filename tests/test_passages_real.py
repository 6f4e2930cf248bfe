"""Passage-level reuse on real scraped news (skipped when ../shared/corpus is absent): a brute-force oracle."""

import json
import re

from pipeline.local import run_local
from tests.conftest import corpus_path

WORD = re.compile(r"\w+")
RUN = 40


def word_runs(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """Every run of RUN words (lower-cased) with the character range it covers."""
    words = [(m.group(0).lower(), m.start(), m.end()) for m in WORD.finditer(text)]
    return {
        tuple(w for w, _, _ in words[i : i + RUN]): (words[i][1], words[i + RUN - 1][2])
        for i in range(len(words) - RUN + 1)
    }


def test_every_pair_sharing_a_40_word_run_is_found_with_spans_covering_it():
    path = corpus_path("web-news-2018-2019", "docs.jsonl")
    texts = {d["id"]: d["text"] for d in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    runs = {doc_id: word_runs(text) for doc_id, text in texts.items()}
    result = run_local([path])
    found = {(p["doc_id_a"], p["doc_id_b"]): p for p in result.pairs.to_pylist()}
    # Characters the cleaning took out of the body (bylines, datelines, page chrome) are not the article's text:
    # a run that crosses them is judged on the rest.
    removed: dict[str, set[int]] = {}
    for seg in result.segments.to_pylist():
        removed.setdefault(seg["doc_id"], set()).update(range(seg["start"], seg["end"]))
    ids = sorted(texts)
    oracle = missed = uncovered = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            common = runs[a].keys() & runs[b].keys()
            if not common:
                continue
            oracle += 1
            pair = found.get((a, b))
            if pair is None:
                missed += 1
                continue
            covered = {c for s in pair["spans"] for c in range(s["a_start"], s["a_end"])} | removed.get(a, set())
            for run in common:
                start, end = runs[a][run]
                if any(texts[a][c].isalnum() and c not in covered for c in range(start, end)):
                    uncovered += 1
                    break
    print(f"pairs sharing a {RUN}-word run: {oracle}, missed: {missed}, with a run not covered: {uncovered}")
    assert oracle >= 40
    assert missed == 0 and uncovered == 0


def test_seeds_still_give_zero_reuse_pairs():
    result = run_local([corpus_path("seeds")])
    assert result.pairs.num_rows == 0
