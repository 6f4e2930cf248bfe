"""Every metric on tiny hand-built cases whose answers are worked out here."""

import json

import pyarrow as pa
import pytest

from pipeline import evaluate as ev
from pipeline import schema, store


def test_set_prf():
    m = ev.set_prf({("a", "b"), ("a", "c"), ("x", "y")}, {("a", "b"), ("a", "c"), ("b", "c"), ("d", "e")})
    # 2 right of 3 predicted; 2 found of 4 gold.
    assert (m.tp, m.fp, m.fn) == (2, 1, 2)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(0.5)
    assert m.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_empty_sets_are_perfect_not_undefined():
    m = ev.set_prf(set(), set())
    assert (m.precision, m.recall) == (1.0, 1.0)


def test_bcubed_hand_computed():
    # gold: {a,b,c} {d}; predicted: {a,b} {c,d}
    gold = {"a": "G1", "b": "G1", "c": "G1", "d": "G2"}
    pred = {"a": "P1", "b": "P1", "c": "P2", "d": "P2"}
    m = ev.bcubed(pred, gold, "abcd")
    # precision per item: a 2/2, b 2/2, c 1/2, d 1/2 -> 3/4
    # recall per item:    a 2/3, b 2/3, c 1/3, d 1/1 -> (2/3+2/3+1/3+1)/4 = 2/3
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(2 / 3)


def test_bcubed_treats_missing_items_as_singletons():
    m = ev.bcubed({}, {"a": "G", "b": "G"}, "ab")
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(0.5)


def test_ari_hand_computed():
    # The classic example: labels [0,0,1,1] vs [0,0,1,2] over four items.
    gold = {"a": "0", "b": "0", "c": "1", "d": "1"}
    pred = {"a": "0", "b": "0", "c": "1", "d": "2"}
    # index = C(2,2) = 1; rows (pred) sum = 1 + 0 + 0 = 1; cols (gold) sum = 1 + 1 = 2; expected = 1*2/6 = 1/3
    # max = (1 + 2)/2 = 1.5 -> ARI = (1 - 1/3) / (1.5 - 1/3) = 4/7
    assert ev.adjusted_rand_index(pred, gold, "abcd") == pytest.approx(4 / 7)
    assert ev.adjusted_rand_index(gold, gold, "abcd") == pytest.approx(1.0)


def test_span_chars_hand_computed():
    gold = {("a", "b"): [{"a_start": 0, "a_end": 10, "b_start": 5, "b_end": 15}]}
    pred = {
        ("a", "b"): [{"a_start": 5, "a_end": 15, "b_start": 5, "b_end": 10}],
        ("x", "y"): [{"a_start": 0, "a_end": 4, "b_start": 0, "b_end": 4}],
    }
    m = ev.span_prf(pred, gold)
    # doc a: pred 5..15, gold 0..10 -> tp 5, fp 5, fn 5; doc b: pred 5..10, gold 5..15 -> tp 5, fn 5
    # pair x,y: fp 4 + 4
    assert (m.tp, m.fp, m.fn) == (10, 13, 10)


def test_credit_matching_needs_same_doc_agency_and_overlap():
    gold = [
        {"doc_id": "d", "agency": "AFP", "start": 10, "end": 13},
        {"doc_id": "d", "agency": "BTA", "start": 40, "end": 43},
    ]
    pred = [
        {"doc_id": "d", "agency": "afp", "start": 11, "end": 14},  # overlaps, agency case-insensitive
        {"doc_id": "d", "agency": "AFP", "start": 12, "end": 13},  # second claim on the same mention
        {"doc_id": "d", "agency": "Reuters", "start": 40, "end": 43},
    ]  # wrong agency
    m = ev.credit_prf(pred, gold)
    assert (m.tp, m.fp, m.fn) == (1, 2, 1)


def test_origin_accuracy_uses_the_majority_predicted_cluster():
    gold_origins = [
        {"cluster": "G1", "origin_doc_id": "a"},
        {"cluster": "G2", "origin_doc_id": None, "external_agency": "AFP"},
        {"cluster": "G3", "origin_doc_id": "z", "ambiguous": True},
    ]
    members = {"G1": ["a", "b", "c"], "G2": ["d", "e"], "G3": ["z", "w"]}
    predicted = {"a": "P1", "b": "P1", "c": "P2", "d": "P3", "e": "P3"}
    origins = {"P1": {"origin_doc_id": "a"}, "P3": {"origin_doc_id": None, "external_origin": "afp"}}
    got = ev.origin_accuracy(gold_origins, members, predicted, origins)
    assert got["origin_top1"] == 1.0 and got["origin_clusters"] == 1
    assert got["external_origin_accuracy"] == 1.0 and got["external_clusters"] == 1
    origins["P1"]["origin_doc_id"] = "b"
    assert ev.origin_accuracy(gold_origins, members, predicted, origins)["origin_top1"] == 0.0


def test_direction_accuracy_counts_missing_verdicts_as_wrong():
    gold = {("a", "b"): "a", ("a", "c"): "a", ("b", "c"): "c", ("x", "y"): "x"}
    pred = {("a", "b"): "a", ("a", "c"): None, ("b", "c"): "b"}
    got = ev.direction_accuracy(gold, pred)
    assert got["direction_accuracy"] == pytest.approx(1 / 3)
    assert got["directed_pairs"] == 3 and got["direction_decided"] == pytest.approx(2 / 3)


def write_output(root, pairs, clusters=(), origins=(), documents=("a", "b", "c", "d")):
    run = store.RunStore(root, "r1")
    run.prepare()
    run.stage(
        "documents",
        pa.Table.from_pylist([{"doc_id": d, "text": "t", "run_id": "r1"} for d in documents], schema=schema.DOCUMENTS),
    )
    run.stage("pairs", pa.Table.from_pylist([{**p, "run_id": "r1"} for p in pairs], schema=schema.PAIRS))
    run.stage("clusters", pa.Table.from_pylist([{**c, "run_id": "r1"} for c in clusters], schema=schema.CLUSTERS))
    run.stage("origins", pa.Table.from_pylist([{**o, "run_id": "r1"} for o in origins], schema=schema.ORIGINS))
    run.stage("attributions", schema.empty(schema.ATTRIBUTIONS))
    run.commit({"run_id": "r1", "status": "completed"})


def test_plain_pair_label_file(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("a,b,label,origin\na,b,1,a\nc,d,0,\nb,c,duplicate,c\n", encoding="utf-8")
    write_output(
        tmp_path / "out",
        [
            {"doc_id_a": "a", "doc_id_b": "b", "relation": "near_duplicate", "source_doc_id": "a"},
            {"doc_id_a": "c", "doc_id_b": "d", "relation": "partial"},
            {"doc_id_a": "a", "doc_id_b": "d", "relation": "partial"},  # unlabelled: not counted
        ],
    )
    report = ev.evaluate(ev.load_output(tmp_path / "out"), ev.load_gold(labels))
    assert report["pairs"]["tp"] == 1 and report["pairs"]["fp"] == 1 and report["pairs"]["fn"] == 1
    assert report["direction"]["direction_accuracy"] == 1.0
    assert "clusters" not in report


def test_plain_label_file_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"a": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs fields a, b and label"):
        ev.load_gold(bad)
    with pytest.raises(ValueError, match="not found"):
        ev.load_gold(tmp_path / "missing.csv")


def test_evaluate_against_simulated_gold_end_to_end(sample_corpus, tmp_path):
    from pipeline.local import run_local

    result = run_local([sample_corpus / "corpus"], run_id="r1")
    run = store.RunStore(tmp_path, "r1")
    run.prepare()
    for name in ("documents", "pairs", "clusters", "origins", "rejects"):
        run.stage(name, getattr(result, name))
    run.stage("attributions", schema.empty(schema.ATTRIBUTIONS))
    run.commit({"run_id": "r1", "status": "completed"})
    report = ev.evaluate(ev.load_output(tmp_path), ev.load_gold(sample_corpus))
    assert report["pairs"]["precision"] >= 0.99 and report["pairs"]["recall"] > 0.7
    assert report["clusters"]["precision"] > 0.95 and 0.5 < report["clusters"]["ari"] <= 1.0
    assert report["recall_by_copy_type"]["verbatim"]["recall"] == 1.0
    text = ev.render(report)
    assert "pairs precision / recall / F1" in text and "origin top-1" in text


def test_recall_by_shared_words_buckets():
    texts = {"a": " ".join(["w"] * 100), "c": " ".join(["w"] * 100)}
    gold = {
        ("a", "b"): {"spans": [{"a_start": 0, "a_end": 2 * 45 - 1}]},  # 45 words
        ("a", "x"): {"spans": [{"a_start": 0, "a_end": 2 * 25 - 1}]},  # 25 words
        ("c", "d"): {"spans": [{"a_start": 0, "a_end": 2 * 30 - 1}]},
    }  # 30 words
    got = ev.recall_by_shared_words(gold, {("a", "b"), ("c", "d")}, texts)
    assert got == {"20-39 words": {"recall": 0.5, "pairs": 2}, ">= 40 words": {"recall": 1.0, "pairs": 1}}
