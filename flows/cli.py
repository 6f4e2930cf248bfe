"""The `wiretrace` command line: run the batch flow, the demo, the simulator and the evaluator."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from flows import prefect_env
from pipeline import arrowpool, schema
from pipeline import config as config_module

DEFAULT_OUTPUT = "output"
DEMO_DOCS = 200  # big enough to show clusters, small enough to finish in seconds


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


def _preload() -> None:
    """What a run loads on first use (DuckDB, the compiled kernels), loaded while the temporary server boots
    on the other core and this one would only wait."""
    import duckdb  # noqa: F401

    from pipeline import kernels

    kernels.warm_up()


def _run_flow(
    inputs: list[str], output: str, cfg: config_module.Config, server: prefect_env.TemporaryServer | None
) -> dict[str, Any]:
    """Run the batch flow, against `server` (started by `main`) or the Prefect API configured, and print the run's
    summary."""
    with contextlib.ExitStack() as cleanup:
        if server is not None:
            cleanup.callback(server.stop)
        from flows import batch, progress

        params = batch.BatchParams(inputs=inputs, output=output, config=cfg)
        if server is not None:
            _preload()
            server.wait_until_healthy()
        cleanup.callback(progress.install().close)
        result = batch.run_batch(params)
    from flows.summary import gather, render

    if result.get("nothing_new"):
        seen = result["counts"]["already_seen"]
        why = f"{seen} articles read are already there" if seen else "no input file is new or changed"
        print(f"nothing new in {', '.join(inputs)} since the last run into {output} ({why}): no rows added")
        return {}
    summary = result.get("summary") or gather(output, result["run_id"])
    print(render(summary, output))
    return summary


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.ingest import discover_files

    cfg = config_module.load(args.config, _overrides(args))
    discover_files(args.input)  # fail fast on a bad path, before the flow starts
    from pipeline.store import check_unlocked

    check_unlocked(args.output)
    _run_flow(args.input, args.output, cfg, args.server)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.simulate import SimulationConfig, simulate

    out = Path(args.output)
    for table in (*schema.OUTPUT_TABLES, "_staging"):
        shutil.rmtree(out / table, ignore_errors=True)  # the demo shows one run, not an accumulating history
    sample = out / "sample"
    counts = simulate(SimulationConfig(docs=DEMO_DOCS, seed=args.seed), sample)
    print(
        f"sample corpus: {counts['documents']} generated articles in {sample / 'corpus'} (gold labels in "
        f"{sample / 'gold'}; score this run with: wiretrace evaluate --gold {sample} --output {out})"
    )
    cfg = config_module.load(args.config, _overrides(args))
    _run_flow([str(sample / "corpus")], str(out), cfg, args.server)
    return 0


def _simulation_config(args: argparse.Namespace) -> Any:
    from pipeline.simulate import SimulationConfig

    fields: dict[str, Any] = {
        "docs": args.docs,
        "seed": args.seed,
        "base": args.base,
        "format": args.format,
        "shard_docs": args.shard_docs,
    }
    defaults = SimulationConfig()
    rates = sorted(k for k, v in vars(defaults).items() if isinstance(v, float))
    for item in args.rate or []:
        key, sep, value = item.partition("=")
        if not sep or key not in rates:
            raise config_module.ConfigError(f"--rate {item!r}: expected NAME=VALUE with NAME one of {rates}")
        try:
            fields[key] = float(value)
        except ValueError:
            raise config_module.ConfigError(f"--rate {item!r}: {value!r} is not a number") from None
        if not 0.0 <= fields[key] <= 1.0:
            raise config_module.ConfigError(f"--rate {item!r}: a rate must lie between 0 and 1")
    if args.base != "builtin" and not Path(args.base).is_file():
        raise config_module.ConfigError(f"--base {args.base!r}: not a file (give a JSONL corpus or 'builtin')")
    if args.docs < 1 or args.shard_docs < 1:
        raise config_module.ConfigError("--docs and --shard-docs must be at least 1")
    return SimulationConfig(**fields)


def cmd_simulate(args: argparse.Namespace) -> int:
    import time

    from pipeline.simulate import simulate

    started = time.perf_counter()
    counts = simulate(_simulation_config(args), args.out)
    seconds = time.perf_counter() - started
    out = Path(args.out)
    print(
        f"wrote {counts['documents']} documents in {counts['shards']} shard(s) to {out / 'corpus'} and gold labels "
        f"to {out / 'gold'}: {counts['pairs']} reuse pairs, {counts['quote_pairs']} quote-only pairs, "
        f"{counts['clusters']} clusters, {counts['credits']} credit mentions "
        f"({seconds:.1f} s, {counts['documents'] / max(seconds, 1e-9):,.0f} docs/s)"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from pipeline import evaluate

    try:
        gold = evaluate.load_gold(args.gold)
        report = evaluate.evaluate(evaluate.load_output(args.output), gold)
    except ValueError as exc:
        raise config_module.ConfigError(str(exc)) from None
    print(evaluate.render(report))
    target = Path(args.json) if args.json else Path(args.output) / "eval.json"
    target.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwritten to {target}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from pipeline.ingest import discover_files

    cfg = config_module.load(args.config, _overrides(args))
    discover_files(args.input)
    if not os.environ.get("PREFECT_API_URL"):
        raise config_module.ConfigError(
            "serving needs a running Prefect server: start one with `prefect server start --host 127.0.0.1` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    prefect_env.configure(quiet=not args.verbose)
    from flows.batch import BatchParams, batch_flow

    params = BatchParams(inputs=args.input, output=args.output, config=cfg)
    print(
        f"serving deployment wiretrace-batch/{args.name} (cron {args.cron!r}); trigger a run now with:\n"
        f"  prefect deployment run 'wiretrace-batch/{args.name}'",
        flush=True,
    )
    batch_flow.serve(
        name=args.name, cron=args.cron, parameters={"params": params.model_dump(mode="json")}, pause_on_shutdown=False
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline import report

    _require_output(args.output)
    index = report.write_report(args.output, args.run)
    views = report.write_views(args.output)
    print(f"report: {index.resolve().as_uri()}\nDuckDB views: {views}")
    return 0


def cmd_views(args: argparse.Namespace) -> int:
    from pipeline import report

    _require_output(args.output)
    print(f"DuckDB views: {report.write_views(args.output)}")
    return 0


def _require_output(output: str) -> None:
    if not (Path(output) / "runs").is_dir():
        raise config_module.ConfigError(f"no wiretrace output in {output}: run `wiretrace run` first")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config file (default: the project's config.toml)")
    p.add_argument("--shard-size", type=int, help="documents per shard (overrides ingest.shard_size)")
    p.add_argument("--threshold", type=float, help="LSH Jaccard threshold (overrides candidates.threshold)")
    p.add_argument("--workers", type=int, help="worker processes and tasks at once (overrides run.max_workers)")
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
        description="Generate about 200 articles of simulated wire copy (with gold labels) under OUTPUT/sample, "
        "run the pipeline on them and print the summary.",
    )
    demo.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="output folder (default: output)")
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default: 7)")
    _add_run_options(demo)
    demo.set_defaults(func=cmd_demo)

    sim = sub.add_parser(
        "simulate",
        help="write a simulated wire corpus with gold labels",
        description="Write corpus shards (OUT/corpus/docs-NNNNN.jsonl or .parquet) and gold labels (OUT/gold: "
        "pairs with relation, copy type, source and spans; clusters; origins; credit mentions; per-document "
        "truth) for `wiretrace evaluate`.",
    )
    sim.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    sim.add_argument("--docs", type=int, default=DEMO_DOCS, help=f"documents to write (default: {DEMO_DOCS})")
    sim.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    sim.add_argument(
        "--base",
        default="builtin",
        metavar="PATH|builtin",
        help="a JSONL corpus (fields text, title) whose stories become the agency originals, or 'builtin' for "
        "the generator (default)",
    )
    sim.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl", help="shard format (default: jsonl)")
    sim.add_argument("--shard-docs", type=int, default=100_000, help="documents per shard (default: 100000)")
    sim.add_argument(
        "--rate",
        action="append",
        metavar="NAME=VALUE",
        help="set a behaviour rate, e.g. --rate quote_rate=0.3 (repeatable; names: relay_rate, external_rate, "
        "chrome_rate, related_headline_rate, long_footer_rate, credit_drop_rate, quote_rate, no_date_rate, "
        "date_only_rate, scrape_time_rate)",
    )
    sim.set_defaults(func=cmd_simulate)

    ev = sub.add_parser(
        "evaluate",
        help="score a pipeline output against gold labels",
        description="Score the latest run in --output against gold labels and print the table: pair "
        "precision/recall/F1 (overall, per relation, per copy type), cluster B-cubed and ARI, origin and "
        "external-origin accuracy, pair direction, span characters, credit mentions. Writes eval.json.",
    )
    ev.add_argument(
        "--gold",
        required=True,
        metavar="DIR|FILE",
        help="a `wiretrace simulate` folder, or a pair-label file (CSV/TSV/JSONL with a, b, label[, origin])",
    )
    ev.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="pipeline output folder")
    ev.add_argument("--json", metavar="FILE", help="where to write the JSON report (default: OUTPUT/eval.json)")
    ev.set_defaults(func=cmd_evaluate)

    srv = sub.add_parser(
        "serve",
        help="serve the batch flow as a Prefect deployment on a cron schedule",
        description="Register the deployment wiretrace-batch/NAME with the Prefect server at PREFECT_API_URL and "
        "run it on the cron schedule (and whenever it is triggered) until stopped. Each run reads only the input "
        "files that are new or changed since the last run into --output.",
    )
    srv.add_argument("--cron", required=True, help='cron schedule, e.g. "0 * * * *" for hourly')
    srv.add_argument("--input", nargs="+", required=True, metavar="PATH", help="files or folders to read")
    srv.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="output folder (default: output)")
    srv.add_argument("--name", default="scheduled", help="deployment name (default: scheduled)")
    _add_run_options(srv)
    srv.set_defaults(func=cmd_serve)

    rep = sub.add_parser(
        "report",
        help="write the duplicate-cluster report (HTML) and the DuckDB views",
        description="Regenerate OUTPUT/report/index.html (self-contained, opens from file://) for the latest run, or "
        "--run RUN_ID, and OUTPUT/wiretrace.duckdb with the analyst views.",
    )
    rep.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="pipeline output folder")
    rep.add_argument("--run", metavar="RUN_ID", help="the run to report (default: the latest completed run)")
    rep.set_defaults(func=cmd_report)

    views = sub.add_parser(
        "views",
        help="create OUTPUT/wiretrace.duckdb with the analyst views",
        description="Views: documents, pairs, clusters, cluster_merges, origins, attributions, segments, rejects, "
        "runs, current_clusters, current_origins, cluster_members, copies_without_credit, outlet_reuse_daily, "
        "outlet_agency_takes.",
    )
    views.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR", help="pipeline output folder")
    views.set_defaults(func=cmd_views)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("wiretrace").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    arrowpool.use_jemalloc()
    with contextlib.ExitStack() as cleanup:
        if args.func in (cmd_run, cmd_demo):
            # A run's temporary Prefect server (none when an API is configured) starts before the command reads its
            # configuration and inputs, and boots on the other core meanwhile (Prefect's imports take seconds).
            prefect_env.configure(quiet=not args.verbose)
            args.server = prefect_env.start_temporary_server()
            if args.server is not None:
                cleanup.callback(args.server.stop)
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    """The command's exit status: 2 for errors of configuration, input or a locked output, with their message."""
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into `head` and friends: not an error
        sys.stderr.close()
        return 0
    except config_module.ConfigError as exc:
        print(f"wiretrace: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from pipeline.ingest import InputError
        from pipeline.store import OutputLocked

        if isinstance(exc, InputError | OutputLocked):
            print(f"wiretrace: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
