"""The five real seed articles (skipped when ../shared/corpus is absent): same topic, no shared passage."""

from pipeline.local import run_local
from tests.conftest import corpus_path


def test_seeds_give_zero_pairs():
    seeds = corpus_path("seeds")
    result = run_local([seeds])
    assert result.documents.num_rows == 5
    assert result.rejects.num_rows == 0
    assert result.pairs.num_rows == 0
    assert result.clusters.num_rows == 0
