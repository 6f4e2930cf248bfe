"""Quality benchmark: simulate -> pipeline -> evaluate on fixed seeds, one column per base corpus.

    python bench/quality.py          # built-in base; Reuters-21578 and Wikinews too when ../shared/corpus exists
    python bench/quality.py --docs 5000 --json quality.json

The simulated ecosystem uses every negative the simulator has (independent same-event stories, quote-only stories,
site footers shared by every article of an outlet), so the figures are what a user should expect, not a best case.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import evaluate  # noqa: E402
from pipeline.local import run_local, write_output  # noqa: E402
from pipeline.simulate import SimulationConfig, simulate  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BASES = {
    "builtin": "builtin",
    "reuters": CORPUS / "reuters21578" / "docs.jsonl",
    "wikinews": CORPUS / "wikinews" / "docs.jsonl",
}
SEED = 20261121


def run_one(base: str | Path, docs: int, folder: Path) -> dict:
    sim = SimulationConfig(docs=docs, seed=SEED, base=str(base), quote_rate=0.2, long_footer_rate=0.2)
    counts = simulate(sim, folder / "sim")
    started = time.perf_counter()
    result = run_local([folder / "sim" / "corpus"], run_id="quality")
    seconds = time.perf_counter() - started
    write_output(result, folder / "out", "quality")
    report = evaluate.evaluate(evaluate.load_output(folder / "out"), evaluate.load_gold(folder / "sim"))
    report["corpus"] = {
        "documents": counts["documents"],
        "gold_pairs": counts["pairs"],
        "quote_pairs": counts["quote_pairs"],
        "pipeline_seconds": round(seconds, 2),
    }
    return report


def rows(report: dict) -> list[tuple[str, str]]:
    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    p, c, o, d, s, cr = (report[k] for k in ("pairs", "clusters", "origins", "direction", "spans", "credits"))
    out = [
        ("documents / gold reuse pairs", f"{report['corpus']['documents']} / {report['corpus']['gold_pairs']}"),
        ("pair precision", f(p["precision"])),
        ("pair recall", f(p["recall"])),
        ("pair F1", f(p["f1"])),
    ]
    for kind, m in report["recall_by_copy_type"].items():
        out.append((f"  recall {kind}", f(m["recall"])))
    for bucket, m in report.get("partial_recall_by_shared_words", {}).items():
        out.append((f"  partial recall, shared {bucket}", f(m["recall"])))
    for label, m in report["pairs_by_relation"].items():
        out.append((f"  {label} P/R", f"{f(m['precision'])}/{f(m['recall'])}"))
    if "shared_quote" in report:
        out.append(("quote-only pairs labelled reuse", f(report["shared_quote"]["labelled_reuse"])))
        out.append(("quote-only pairs labelled shared_quote", f(report["shared_quote"]["labelled_shared_quote"])))
    out += [
        ("cluster B3 P/R/F1", f"{f(c['precision'])}/{f(c['recall'])}/{f(c['f1'])}"),
        ("cluster ARI", f(c["ari"])),
        ("origin top-1", f(o["origin_top1"])),
        ("external origin accuracy", f(o["external_origin_accuracy"])),
        ("pair direction accuracy", f(d["direction_accuracy"])),
        ("span char P/R/F1", f"{f(s['precision'])}/{f(s['recall'])}/{f(s['f1'])}"),
        ("credit mention P/R", f"{f(cr['precision'])}/{f(cr['recall'])}"),
        ("pipeline seconds", str(report["corpus"]["pipeline_seconds"])),
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000, help="documents per simulated corpus (default 2000)")
    parser.add_argument("--json", type=Path, help="also write the full reports here")
    args = parser.parse_args()
    reports = {}
    for name, base in BASES.items():
        if base != "builtin" and not Path(base).exists():
            print(f"({name}: {base} not found, skipped)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            reports[name] = run_one(base, args.docs, Path(tmp))
    tables = {name: dict(rows(r)) for name, r in reports.items()}
    metrics = list(dict.fromkeys(m for t in tables.values() for m in t))
    names = list(tables)
    print(f"| metric (seed {SEED}) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for metric in metrics:
        print(f"| {metric} | " + " | ".join(tables[n].get(metric, "") for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
