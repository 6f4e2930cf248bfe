import gc

import pytest

from pipeline.gcpause import gc_paused, gc_paused_while_producing


def test_collector_is_paused_during_the_call_and_resumed_after_even_on_error():
    seen = []

    @gc_paused
    def work(fail: bool) -> int:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("boom")
        return 1

    assert gc.isenabled()
    assert work(False) == 1
    with pytest.raises(ValueError):
        work(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        work(False)
        assert not gc.isenabled()  # a pause inside a pause leaves the collector as it found it
    finally:
        gc.enable()


def test_generator_is_paused_while_producing_but_not_while_its_consumer_runs():
    seen = []

    @gc_paused_while_producing
    def items():
        for i in range(3):
            seen.append(gc.isenabled())
            yield i

    consumer = []
    for item in items():
        consumer.append((item, gc.isenabled()))
    assert consumer == [(0, True), (1, True), (2, True)]
    assert seen == [False, False, False] and gc.isenabled()
