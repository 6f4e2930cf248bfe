"""Throughput of the pipeline stages (no Prefect) against a naive datasketch loop, on the same documents.

    python bench/throughput.py                       # 20,000 simulated ~400-word documents
    python bench/throughput.py --docs 5000
    python bench/throughput.py --input ../shared/corpus/reuters21578/docs.jsonl

Prints docs/s per stage and end to end (JSONL in -> Parquet tables out), peak RSS, and the naive baseline
(`MinHash.update` per shingle with datasketch's default sha1, `MinHashLSH` insert and query) measured in the same
run on a sample of the same documents, with the ratio. Run it with one thread per library for one-core figures:
OMP_NUM_THREADS=1 is set below before numpy loads.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import arrowpool, ingest, kernels, normalize, store  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.local import match_shards  # noqa: E402
from pipeline.simulate import SimulationConfig, simulate  # noqa: E402


def make_corpus(n_docs: int, folder: Path) -> Path:
    """A simulated corpus of about `n_docs` documents averaging ~400 words (copies keep part of a story)."""
    simulate(SimulationConfig(docs=n_docs, seed=3, sentences=(24, 32)), folder)
    return folder / "corpus" / "docs-00000.jsonl"


def limit_docs(path: Path, n_docs: int, folder: Path) -> Path:
    out = folder / "input.jsonl"
    with path.open("rb") as src, out.open("wb") as dst:
        for i, line in enumerate(src):
            if i >= n_docs:
                break
            dst.write(line)
    return out


def pipeline_run(path: Path, out: Path, cfg: Config) -> dict[str, float]:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    stats = ingest.IngestStats()
    shards = list(ingest.shards(ingest.discover_files([path]), cfg.ingest, "bench", stats))
    seconds["ingest"] = time.perf_counter() - t0
    # Normalisation alone (cleaning + matching form), measured on its own pass; the pipeline run repeats it.
    t = time.perf_counter()
    for shard in shards:
        normalize.normalize_documents(shard.documents, cfg.normalize)
    normalize_seconds = time.perf_counter() - t
    t0 += normalize_seconds
    result = match_shards(shards, cfg, "bench")
    seconds.update(result.seconds)
    t = time.perf_counter()
    run = store.RunStore(out, "bench")
    run.prepare()
    run.stage("documents", result.documents)
    for name in ("segments", "pairs", "clusters", "origins", "attributions", "rejects"):
        run.stage(name, getattr(result, name))
    run.commit({"run_id": "bench", "status": "completed", "counts": {"documents": stats.documents}})
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    seconds["normalize"] = normalize_seconds
    seconds["documents"] = stats.documents
    seconds["pairs"] = result.pairs.num_rows
    seconds["n_candidates"] = result.candidates
    seconds["tokens_per_doc"] = float(pa.compute.mean(result.documents.column("n_tokens")).as_py() or 0)
    return seconds


def naive_run(path: Path, n_docs: int, cfg: Config) -> float:
    """docs/s of the plain datasketch recipe: str shingles, MinHash.update each (sha1), MinHashLSH insert+query."""
    from datasketch import MinHash, MinHashLSH

    texts = []
    with path.open("rb") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            if len(texts) >= n_docs:
                break
    k = cfg.signatures.shingle_size
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=cfg.candidates.threshold, num_perm=cfg.signatures.num_perm)
    sigs = []
    for i, text in enumerate(texts):
        tokens = normalize.matching_tokens(text)
        m = MinHash(num_perm=cfg.signatures.num_perm, seed=cfg.signatures.seed)
        for j in range(max(1, len(tokens) - k + 1)):
            m.update(" ".join(tokens[j : j + k]).encode("utf-8"))
        lsh.insert(str(i), m)
        sigs.append(m)
    for m in sigs:
        lsh.query(m)
    return len(texts) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000, help="documents to process (default 20000)")
    parser.add_argument("--input", type=Path, help="a JSONL corpus instead of the simulator")
    parser.add_argument("--naive-docs", type=int, default=1000, help="documents for the naive baseline")
    args = parser.parse_args()
    cfg = Config()
    pool = arrowpool.use_jemalloc()  # as the command line runs (see pipeline/arrowpool.py)
    # Compiled kernels load once per process (like the imports above), and pyarrow imports pandas on its first
    # `pa.array` call when pandas is installed: both reported, not counted per document.
    warm_up = kernels.warm_up()
    start = time.perf_counter()
    pa.array([0])
    lazy_import = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = args.input if args.input else make_corpus(args.docs, folder / "sim")
        path = limit_docs(source, args.docs, folder)
        figures = pipeline_run(path, folder / "out", cfg)
        naive = naive_run(path, args.naive_docs, cfg)
    n = figures["documents"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"documents: {n:.0f} ({figures['tokens_per_doc']:.0f} tokens/doc), candidates: "
        f"{figures['n_candidates']:.0f}, pairs: {figures['pairs']:.0f}"
    )
    print(
        f"  {'normalize':<11} {figures['normalize']:7.3f} s  {n / figures['normalize']:>10,.0f} docs/s"
        "  (clean + matching form, measured alone; part of signatures below)"
    )
    for stage in ("ingest", "boilerplate", "signatures", "candidates", "verify", "provenance", "cluster", "write"):
        print(f"  {stage:<11} {figures[stage]:7.3f} s  {n / max(figures[stage], 1e-9):>10,.0f} docs/s")
    rest = figures["total"] - figures["provenance"]
    print(f"  provenance adds {figures['provenance'] / rest:.1%} to the time of the other stages")
    e2e = n / figures["total"]
    print(f"  {'end-to-end':<11} {figures['total']:7.3f} s  {e2e:>10,.0f} docs/s")
    print(f"naive datasketch loop ({args.naive_docs} docs): {naive:,.0f} docs/s; wiretrace/naive = {e2e / naive:.1f}x")
    print(
        f"once per process, not in the figures above: compiled kernels load in {warm_up:.2f} s, "
        f"pyarrow's lazy pandas import takes {lazy_import:.2f} s"
    )
    print(f"peak RSS: {peak_mb:,.0f} MB; Arrow memory pool: {pool}")


if __name__ == "__main__":
    main()
