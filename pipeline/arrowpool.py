"""Arrow's memory pool for wiretrace processes.

pyarrow allocates from mimalloc by default. On the machines this was measured on, mimalloc pays far more for fresh
memory than jemalloc: 0.25 s against 0.04 s to copy 60 MB of list columns into new buffers, and 8.1-10.3 s against
7.7-8.1 s for `bench/throughput.py` on 20,000 documents (two runs each, same input). The command line, its worker
processes and the benchmarks switch to jemalloc where the wheel has it; a notebook importing `pipeline` keeps
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
