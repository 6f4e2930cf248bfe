"""Shared fixtures: the simulated sample corpus, the real corpora (skipped when absent), the Prefect harness."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from flows import prefect_env

# Prefect reads its settings at import time: point it at a throw-away home before any test imports it.
prefect_env.configure(Path(tempfile.mkdtemp(prefix="wiretrace-test-prefect-")))

from pipeline.simulate import SimulationConfig, simulate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("WIRETRACE_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus, or skip the test when the corpus is not beside the project."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated corpus (about 200 documents) with gold labels."""
    out = tmp_path_factory.mktemp("sample")
    # Quote-only negatives are scored by bench/quality.py; the pipeline-contract tests want clean positives.
    simulate(SimulationConfig(docs=200, seed=11, quote_rate=0.0), out)
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_docs(sample: Path) -> list[dict]:
    """The simulated input records (what the pipeline reads)."""
    return [row for path in sorted((sample / "corpus").glob("docs-*.jsonl")) for row in read_jsonl(path)]


def gold_kinds(sample: Path) -> dict[str, str]:
    """doc_id -> copy type (original, relay, verbatim, edited, ..., independent, quote) from the gold labels."""
    return {d["doc_id"]: d["copy_type"] for d in read_jsonl(sample / "gold" / "docs.jsonl")}


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory):
    """One temporary Prefect server and database for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
