"""Arrow's memory pool for wiretrace processes.

pyarrow allocates from mimalloc by default. On the machines this was measured on, mimalloc pays several times more
than jemalloc for fresh memory, and `bench/throughput.py` on 20,000 simulated documents took 8.1-10.3 s with it
against 7.7-8.1 s with jemalloc (two runs each, same input, `ARROW_DEFAULT_MEMORY_POOL` set). The command line, its
worker processes and the benchmarks switch to jemalloc where the wheel has it; a notebook importing `pipeline` keeps
whatever pool it chose.
"""

from __future__ import annotations

import contextlib

import pyarrow as pa


def use_jemalloc() -> str:
    """Make jemalloc Arrow's default pool when this pyarrow build has it; the backend in use after the call."""
    with contextlib.suppress(NotImplementedError):  # a build without jemalloc (Windows wheels) keeps its default
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    return pa.default_memory_pool().backend_name
