import numpy as np
import pyarrow as pa

from pipeline import cluster, schema
from pipeline.config import ClusterConfig


def pairs(edges: list[tuple[str, str, str, int]]) -> pa.Table:
    rows = [
        {
            "doc_id_a": min(a, b),
            "doc_id_b": max(a, b),
            "relation": rel,
            "shared_shingles": n,
            "spans": [],
            "run_id": "r",
        }
        for a, b, rel, n in edges
    ]
    return pa.Table.from_pylist(rows, schema=schema.PAIRS)


def star(center: str, leaves: list[str]) -> list[tuple[str, str, str, int]]:
    return [(center, leaf, "near_duplicate", 300) for leaf in leaves]


def test_connected_components_of_kept_pairs():
    edges = [*star("a", ["b", "c"]), ("x", "y", "partial", 40)]
    assert cluster.components(pairs(edges), ClusterConfig()) == [["a", "b", "c"], ["x", "y"]]


def test_one_weak_partial_edge_does_not_merge_two_large_stories():
    edges = [*star("a1", ["a2", "a3", "a4"]), *star("b1", ["b2", "b3"]), ("a4", "b3", "partial", 15)]
    got = cluster.components(pairs(edges), ClusterConfig(guard_min_size=3, guard_min_edges=2))
    assert got == [["a1", "a2", "a3", "a4"], ["b1", "b2", "b3"]]


def test_two_partial_edges_or_a_strong_one_do_merge():
    base = [*star("a1", ["a2", "a3", "a4"]), *star("b1", ["b2", "b3"])]
    two = [*base, ("a4", "b3", "partial", 15), ("a1", "b1", "partial", 20)]
    assert len(cluster.components(pairs(two), ClusterConfig())) == 1
    strong = [*base, ("a4", "b3", "near_duplicate", 200)]
    assert len(cluster.components(pairs(strong), ClusterConfig())) == 1


def test_a_single_document_joins_by_a_partial_edge():
    edges = [*star("a1", ["a2", "a3"]), ("a3", "local", "partial", 15)]
    assert cluster.components(pairs(edges), ClusterConfig()) == [["a1", "a2", "a3", "local"]]


def test_cluster_ids_are_deterministic_and_order_independent():
    edges = [*star("a", ["b", "c"]), ("x", "y", "partial", 40)]
    one = cluster.clusters_table(pairs(edges), ClusterConfig(), "r1")
    two = cluster.clusters_table(pairs(list(reversed(edges))), ClusterConfig(), "r2")
    assert one.drop(["run_id"]).to_pylist() == two.drop(["run_id"]).to_pylist()
    assert len(set(one.column("cluster_id").to_pylist())) == 2
    assert one.column("size").to_pylist() == [3, 3, 3, 2, 2]


def test_shared_quote_and_unknown_relations_do_not_cluster():
    edges = [("a", "b", "shared_quote", 30)]
    assert cluster.components(pairs(edges), ClusterConfig()) == []


def test_stable_ids_keep_grown_clusters_and_merge_into_the_oldest():
    previous = {"a": "c_old", "b": "c_old", "x": "c_new", "y": "c_new", "p": "c_alone", "q": "c_alone"}
    first_seen = {"c_old": "run1", "c_new": "run2", "c_alone": "run1"}
    groups = [["a", "b", "n1", "x", "y"], ["p", "q", "n2"], ["n3", "n4"]]
    ids, merges = cluster.stable_ids(groups, previous, first_seen)
    assert ids[0] == "c_old" and merges == [("c_old", "c_new")]  # the older survives though its id sorts later
    assert ids[1] == "c_alone"  # grown, not renamed
    assert ids[2] not in first_seen and ids[2] == cluster.stable_ids([["n4", "n3"]], {}, {})[0][0]


def test_sorted_codes_are_numpys_unique_with_inverse():
    words = ["Литва", "border", "a", "B", "é", "z", "中文", "border", "a", "", "é"] * 3
    values = pa.chunked_array([words[:10], words[10:]])
    distinct, codes = cluster.sorted_codes(values)
    want, inverse = np.unique(np.array(words, dtype=object), return_inverse=True)
    assert distinct.tolist() == want.tolist() and codes.tolist() == inverse.tolist()
