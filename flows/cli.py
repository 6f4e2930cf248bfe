"""The `wiretrace` command line: run the batch flow, the demo, and the simulator."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from flows import prefect_env
from pipeline import config as config_module

DEFAULT_OUTPUT = "output"
DEMO_EVENTS = 35  # about 200 documents: big enough to show clusters, small enough to finish in seconds


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "ingest.shard_size": args.shard_size,
        "candidates.threshold": args.threshold,
        "run.max_workers": args.workers,
    }
    out = {k: v for k, v in pairs.items() if v is not None}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise config_module.ConfigError(f"--set {item!r} must look like section.key=value")
        out[key.strip()] = _parse_value(value.strip())
    return out


def _parse_value(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _run_flow(inputs: list[str], output: str, cfg: config_module.Config, verbose: bool) -> dict[str, Any]:
    prefect_env.configure(quiet=not verbose)
    from flows import progress
    from flows.batch import BatchParams, run_batch
    from flows.summary import gather, render

    reporter = progress.install()
    try:
        result = run_batch(BatchParams(inputs=inputs, output=output, config=cfg))
    finally:
        reporter.close()
    summary = gather(output, result["run_id"])
    print(render(summary, output))
    return summary


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.ingest import discover_files

    cfg = config_module.load(args.config, _overrides(args))
    discover_files(args.input)  # fail fast on a bad path, before Prefect starts
    _run_flow(args.input, args.output, cfg, args.verbose)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.simulate import SimulationConfig, simulate

    out = Path(args.output)
    for table in ("documents", "pairs", "clusters", "origins", "attributions", "rejects", "runs", "_staging"):
        shutil.rmtree(out / table, ignore_errors=True)  # the demo shows one run, not an accumulating history
    corpus = out / "sample"
    counts = simulate(SimulationConfig(events=DEMO_EVENTS, seed=args.seed), corpus)
    print(
        f"sample corpus: {counts['documents']} generated articles in {corpus / 'docs.jsonl'} "
        f"(gold labels in {corpus / 'gold'})"
    )
    cfg = config_module.load(args.config, _overrides(args))
    _run_flow([str(corpus / "docs.jsonl")], str(out), cfg, args.verbose)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from pipeline.simulate import SimulationConfig, simulate

    counts = simulate(SimulationConfig(events=args.events, seed=args.seed), args.out)
    print(
        f"wrote {counts['documents']} documents, {counts['pairs']} gold pairs, {counts['clusters']} clusters "
        f"to {args.out}"
    )
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config file (default: the project's config.toml)")
    p.add_argument("--shard-size", type=int, help="documents per shard (overrides ingest.shard_size)")
    p.add_argument("--threshold", type=float, help="LSH Jaccard threshold (overrides candidates.threshold)")
    p.add_argument("--workers", type=int, help="tasks run at once (overrides run.max_workers)")
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override any config key, e.g. --set verify.near_duplicate_containment=0.85 (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show Prefect's own logs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wiretrace",
        description="Find reused wire copy in news articles, cluster the copies and trace them to their source. "
        "Writes Parquet tables (documents, pairs, clusters, origins, attributions, rejects, runs) that "
        "DuckDB or pandas read with one glob each.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the batch pipeline on your articles",
        description="Read articles (folders of .txt, JSONL, CSV or Parquet files), find shared "
        "text, cluster the copies and write the tables under --output.",
    )
    run.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="PATH",
        help="files or folders to read (.txt, .jsonl, .csv, .parquet)",
    )
    run.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="output folder (default: output)")
    _add_run_options(run)
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo",
        help="generate the embedded sample corpus and run the pipeline on it",
        description="Generate about 200 articles of simulated wire copy (with gold labels) "
        "under OUTPUT/sample, run the pipeline on them and print the summary.",
    )
    demo.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="output folder (default: output)")
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default: 7)")
    _add_run_options(demo)
    demo.set_defaults(func=cmd_demo)

    sim = sub.add_parser(
        "simulate",
        help="write a simulated wire corpus with gold labels",
        description="Write docs.jsonl and gold/ (pairs, clusters, origins, credits) under --out.",
    )
    sim.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    sim.add_argument("--events", type=int, default=DEMO_EVENTS, help="news events to simulate (default: 35)")
    sim.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("wiretrace").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except config_module.ConfigError as exc:
        print(f"wiretrace: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from pipeline.ingest import InputError

        if isinstance(exc, InputError):
            print(f"wiretrace: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
