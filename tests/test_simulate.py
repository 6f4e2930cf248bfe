import json
import re

import pyarrow.parquet as pq
import pytest

from pipeline.simulate import SimulationConfig, simulate, split_story
from tests.conftest import corpus_docs, corpus_path, gold_kinds, read_jsonl


def test_same_seed_same_corpus_and_different_seed_differs(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        simulate(SimulationConfig(docs=30, seed=seed), tmp_path / name)
    a, b, c = ((tmp_path / x / "corpus" / "docs-00000.jsonl").read_text() for x in "abc")
    assert a == b != c


def test_gold_pairs_and_clusters_are_consistent(sample_corpus):
    docs = {d["id"]: d for d in corpus_docs(sample_corpus)}
    pairs = read_jsonl(sample_corpus / "gold" / "pairs.jsonl")
    clusters = {c["doc_id"]: c["cluster"] for c in read_jsonl(sample_corpus / "gold" / "clusters.jsonl")}
    assert 200 <= len(docs) <= 230
    assert pairs and all(p["a"] in docs and p["b"] in docs and p["a"] < p["b"] for p in pairs)
    assert all(clusters[p["a"]] == clusters[p["b"]] for p in pairs)
    kinds = gold_kinds(sample_corpus)
    assert set(kinds) == set(docs)
    independent = {d for d, kind in kinds.items() if kind == "independent"}
    assert independent and not any(p["a"] in independent or p["b"] in independent for p in pairs)
    # Every copy type the ecosystem models is present.
    assert {"original", "relay", "verbatim", "edited", "truncated", "partial", "merged"} <= set(kinds.values())


def test_gold_spans_cover_the_same_sentence_in_both_documents(sample_corpus):
    docs = {d["id"]: d["text"] for d in corpus_docs(sample_corpus)}
    checked = 0
    for p in read_jsonl(sample_corpus / "gold" / "pairs.jsonl"):
        for s in p["spans"]:
            a = re.findall(r"\w+", docs[p["a"]][s["a_start"] : s["a_end"]])
            b = re.findall(r"\w+", docs[p["b"]][s["b_start"] : s["b_end"]])
            # Edited copies substitute words: the two versions still share a run of eight words.
            runs = {tuple(a[i : i + 8]) for i in range(len(a) - 7)}
            assert a == b or any(tuple(b[i : i + 8]) in runs for i in range(len(b) - 7)), json.dumps(p)
            checked += 1
    assert checked > 100


def test_credit_offsets_point_at_the_mention(sample_corpus):
    docs = {d["id"]: d["text"] for d in corpus_docs(sample_corpus)}
    credits = read_jsonl(sample_corpus / "gold" / "credits.jsonl")
    assert len(credits) > 30
    for c in credits:
        assert docs[c["doc_id"]][c["start"] : c["end"]] == c["mention"]
    assert {"AFP", "Reuters", "AP"} & {c["agency"] for c in credits}


def test_gold_direction_points_from_original_to_copy(sample_corpus):
    kinds = gold_kinds(sample_corpus)
    directed = [p for p in read_jsonl(sample_corpus / "gold" / "pairs.jsonl") if p.get("source")]
    assert directed
    for p in directed:
        copy = p["b"] if p["source"] == p["a"] else p["a"]
        assert kinds[p["source"]] in ("original", "relay") and kinds[copy] != "original"


def test_external_origins_are_absent_from_the_corpus(sample_corpus):
    docs = {d["id"] for d in corpus_docs(sample_corpus)}
    origins = read_jsonl(sample_corpus / "gold" / "origins.jsonl")
    assert any(o["external_agency"] for o in origins) and any(o["origin_doc_id"] for o in origins)
    for o in origins:
        assert (o["origin_doc_id"] in docs) if o["origin_doc_id"] else o["external_agency"] not in docs


def test_quote_only_negatives_and_metadata_noise(tmp_path):
    simulate(SimulationConfig(docs=300, seed=5, quote_rate=1.0, no_date_rate=0.2, date_only_rate=0.2), tmp_path)
    pairs = read_jsonl(tmp_path / "gold" / "pairs.jsonl")
    quotes = [p for p in pairs if p["label"] == "shared_quote"]
    assert quotes and all(p["spans"] == [] for p in quotes)
    docs = corpus_docs(tmp_path)
    dates = [d["published_at"] for d in docs]
    assert dates.count(None) > 20 and sum(1 for d in dates if d and len(d) == 10) > 20


def test_parquet_shards_and_bounded_shard_size(tmp_path):
    counts = simulate(SimulationConfig(docs=120, seed=3, format="parquet", shard_docs=50), tmp_path)
    files = sorted((tmp_path / "corpus").glob("docs-*.parquet"))
    assert len(files) == counts["shards"] == -(-counts["documents"] // 50)
    assert [pq.read_metadata(f).num_rows for f in files[:-1]] == [50] * (len(files) - 1)


def test_long_footers_are_shared_by_every_article_of_an_outlet(tmp_path):
    simulate(SimulationConfig(docs=150, seed=2, long_footer_rate=1.0, chrome_rate=0.0), tmp_path)
    outlet_texts = [d["text"] for d in corpus_docs(tmp_path) if d["source"] == "Baltic Courier"]
    assert len(outlet_texts) >= 2
    assert len({t.rsplit("\n\n", 1)[-1] for t in outlet_texts}) == 1


def test_split_story_handles_hard_wrapped_and_indented_paragraphs():
    text = "SALVADOR, Feb 26 - Showers continued in\nthe zone. Prices rose.\n    The dry period means late\ncrops."
    assert split_story(text) == [
        ["SALVADOR, Feb 26 - Showers continued in the zone.", "Prices rose."],
        ["The dry period means late crops."],
    ]


@pytest.mark.corpus
def test_real_base_corpus_provides_the_originals(tmp_path):
    base = corpus_path("wikinews", "docs.jsonl")
    counts = simulate(SimulationConfig(docs=120, seed=4, base=str(base)), tmp_path)
    assert counts["documents"] >= 100 and counts["pairs"] > 50
    texts = {d["id"]: d["text"] for d in corpus_docs(tmp_path)}
    originals = [d for d, kind in gold_kinds(tmp_path).items() if kind == "original"]
    assert all(" " in texts[o] for o in originals)
