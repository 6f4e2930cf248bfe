"""The worker-process pool: results in item order, and a failure in a worker surfaces in the caller."""

import pytest

from pipeline.parallel import ShardPool


def test_results_come_back_in_item_order_from_worker_processes():
    with ShardPool(2) as pool:
        assert pool.processes == 2
        assert list(pool.each(pow, [(2, i) for i in range(12)])) == [2**i for i in range(12)]


def test_one_worker_runs_in_the_calling_process():
    with ShardPool(1) as pool:
        assert pool.processes == 0
        assert list(pool.each(divmod, [(7, 2)])) == [(3, 1)]


def test_an_error_in_a_worker_reaches_the_caller_with_its_type_and_message():
    with ShardPool(2) as pool, pytest.raises(ValueError, match="invalid literal"):
        list(pool.each(int, [("12",), ("not a number",)]))
