"""Report generation time for a large output: N clusters of 3 documents each, written as real Parquet tables.

    python bench/report.py                  # 100,000 clusters
    python bench/report.py --clusters 20000

Prints the time to write the tables, the time `pipeline.report.write_report` takes, and the report's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import report, schema, store  # noqa: E402

TEXT = (
    "Officials in Vilnius extended the permit rules on Monday, the ministry said. "
    "The decision affects thousands of travellers at the border crossings. "
) * 3


def build_output(out: Path, n_clusters: int) -> None:
    run = store.RunStore(out, "bench")
    run.prepare()
    docs = n_clusters * 3
    ids = np.char.add("d", np.arange(docs).astype(str))
    cluster_of = np.char.add("c", (np.arange(docs) // 3).astype(str))
    start = np.datetime64("2024-03-01T00:00:00")
    published = start + (np.arange(docs) * 60).astype("timedelta64[s]")
    run.stage(
        "documents",
        pa.table(
            {
                "doc_id": ids,
                "source": np.char.add("outlet", (np.arange(docs) % 40).astype(str)),
                "published_at": pa.array(published.astype("datetime64[us]")).cast(schema.TIMESTAMP),
                "title": np.char.add("Story ", (np.arange(docs) // 3).astype(str)),
                "text": [TEXT] * docs,
                "body": [TEXT] * docs,
                "run_id": ["bench"] * docs,
            }
        ),
    )
    origin = ids[0::3]
    pairs_a = np.concatenate([origin, origin])
    pairs_b = np.concatenate([ids[1::3], ids[2::3]])
    n_pairs = len(pairs_a)
    span = [{"a_start": 0, "a_end": 150, "b_start": 0, "b_end": 150}]
    run.stage(
        "pairs",
        pa.table(
            {
                "doc_id_a": pairs_a,
                "doc_id_b": pairs_b,
                "relation": ["near_duplicate"] * n_pairs,
                "containment_a": np.full(n_pairs, 0.9),
                "containment_b": np.full(n_pairs, 0.9),
                "spans": [span] * n_pairs,
                "source_doc_id": pairs_a,
                "run_id": ["bench"] * n_pairs,
            }
        ),
    )
    run.stage(
        "clusters",
        pa.table(
            {"cluster_id": cluster_of, "doc_id": ids, "size": np.full(docs, 3, np.int32), "run_id": ["bench"] * docs}
        ),
    )
    run.stage(
        "origins",
        pa.table(
            {
                "cluster_id": cluster_of[0::3],
                "origin_doc_id": origin,
                "credited_agency": ["AFP"] * n_clusters,
                "confidence": np.full(n_clusters, 0.8),
                "evidence": [["earliest by 1 m"]] * n_clusters,
                "run_id": ["bench"] * n_clusters,
            }
        ),
    )
    for table in ("segments", "attributions", "rejects"):
        run.stage(table, schema.OUTPUT_TABLES[table].empty_table())
    run.commit({"run_id": "bench", "status": "completed", "counts": {"documents": docs}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        build_output(out, args.clusters)
        built = time.perf_counter() - t
        t = time.perf_counter()
        index = report.write_report(out)
        took = time.perf_counter() - t
        size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
        print(f"clusters: {args.clusters:,} ({args.clusters * 3:,} documents); tables written in {built:.1f} s")
        print(
            f"report generated in {took:.1f} s ({args.clusters / took:,.0f} clusters/s), {size / 1e6:.0f} MB "
            f"in {len(list((index.parent / 'data').iterdir()))} data files"
        )
        opened = open_in_browser(index)
        if opened:
            print(f"headless Chromium: overview ready in {opened[0]:.1f} s, a cluster opened in {opened[1]:.2f} s")


def open_in_browser(index: Path) -> tuple[float, float] | None:
    """Seconds until the overview is interactive and until a click shows a cluster (None without Chromium)."""
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        t = time.perf_counter()
        page.goto(index.resolve().as_uri())
        page.wait_for_function("window.WT_READY === true", timeout=120_000)
        ready = time.perf_counter() - t
        t = time.perf_counter()
        page.locator("#clusters tbody tr").first.click()
        page.wait_for_selector("#right h3")
        clicked = time.perf_counter() - t
        browser.close()
    return ready, clicked


if __name__ == "__main__":
    main()
