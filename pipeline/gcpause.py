"""A pause of Python's cyclic garbage collector around the loops that build a shard's many small objects.

Cleaning, credits, alignment and provenance allocate millions of short-lived strings, tuples and lists per shard.
Reference counting frees them; none form cycles. But every 700 allocations the cyclic collector runs, and its older
generations walk every live object of the shard. The collector is paused while such a function runs and resumed
after, so anything cyclic is still collected. (On this project's machines the gain is within their noise: see the
README's Performance section for what `bench/compare.sh` printed.)
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(function: Callable[P, R]) -> Callable[P, R]:
    """`function` with the cyclic garbage collector paused while it runs (left as found: a nested or concurrent
    pause does not resume it early)."""

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


def gc_paused_while_producing(function: Callable[P, Iterator[R]]) -> Callable[P, Iterator[R]]:
    """A generator `function` with the collector paused while it works on its next item, and running as found
    while its consumer holds that item."""

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        items = function(*args, **kwargs)
        while True:
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                if was_enabled:
                    gc.enable()
            yield item

    return paused
