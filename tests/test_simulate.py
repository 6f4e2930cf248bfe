import json

from pipeline.simulate import SimulationConfig, simulate
from tests.conftest import read_jsonl


def test_same_seed_same_corpus_and_different_seed_differs(tmp_path):
    simulate(SimulationConfig(events=5, seed=1), tmp_path / "a")
    simulate(SimulationConfig(events=5, seed=1), tmp_path / "b")
    simulate(SimulationConfig(events=5, seed=2), tmp_path / "c")
    a, b, c = ((tmp_path / x / "docs.jsonl").read_text() for x in "abc")
    assert a == b != c


def test_gold_is_consistent_with_documents(sample_corpus):
    docs = {d["id"]: d for d in read_jsonl(sample_corpus / "docs.jsonl")}
    pairs = read_jsonl(sample_corpus / "gold" / "pairs.jsonl")
    clusters = read_jsonl(sample_corpus / "gold" / "clusters.jsonl")
    assert 150 <= len(docs) <= 300
    assert pairs and all(p["a"] in docs and p["b"] in docs and p["a"] < p["b"] for p in pairs)
    cluster_of = {c["doc_id"]: c["cluster"] for c in clusters}
    assert all(cluster_of[p["a"]] == cluster_of[p["b"]] for p in pairs)
    independent = {d for d, doc in docs.items() if doc["copy_type"] == "independent"}
    assert independent and not any(p["a"] in independent or p["b"] in independent for p in pairs)


def test_credit_offsets_point_at_the_mention(sample_corpus):
    docs = {d["id"]: d["text"] for d in read_jsonl(sample_corpus / "docs.jsonl")}
    credits = read_jsonl(sample_corpus / "gold" / "credits.jsonl")
    assert credits
    for c in credits:
        assert docs[c["doc_id"]][c["start"] : c["end"]] == c["mention"]


def word_runs(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = text.replace("\n", " ").split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_every_gold_pair_shares_an_eight_word_run(sample_corpus):
    docs = {d["id"]: d["text"] for d in read_jsonl(sample_corpus / "docs.jsonl")}
    for p in read_jsonl(sample_corpus / "gold" / "pairs.jsonl"):
        assert word_runs(docs[p["a"]]) & word_runs(docs[p["b"]]), json.dumps(p)
