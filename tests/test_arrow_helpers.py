"""Arrow helpers: one array per column without copies, and the memory pool the command line uses."""

import numpy as np
import pyarrow as pa
import pytest

from pipeline import arrowpool, candidates, schema


def shingle_table() -> pa.Table:
    values = [np.arange(n, dtype=np.uint64) + 10 * n for n in (3, 0, 5, 2, 4)]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int32)
    return pa.table({"shingles": pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.concatenate(values)))})


def test_whole_keeps_a_lone_chunk_and_combines_slices_and_chunks():
    table = shingle_table()
    lone = table.column("shingles")
    assert schema.whole(lone).values.buffers()[1].address == lone.chunk(0).values.buffers()[1].address  # no copy
    sliced = table.slice(1, 3).column("shingles")
    chunked = pa.concat_tables([table.slice(0, 2), table.slice(2)]).column("shingles")
    for column, want in ((sliced, table.slice(1, 3).column("shingles").to_pylist()), (chunked, lone.to_pylist())):
        array = schema.whole(column)
        assert array.to_pylist() == want
        # The flat layout readers rely on: offsets from 0 into values that hold exactly the rows' items.
        assert array.offsets[0].as_py() == 0 and array.offsets[-1].as_py() == len(array.values)


def test_sampled_shingles_of_a_sliced_shard_are_its_own():
    table = shingle_table().slice(2, 2)
    fingerprints, rows = candidates.sampled_shingles(table, 1)
    assert fingerprints.tolist() == [50, 51, 52, 53, 54, 20, 21]
    assert rows.tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_use_jemalloc_makes_it_the_default_pool_where_pyarrow_has_it():
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    assert arrowpool.use_jemalloc() == "jemalloc" == pa.default_memory_pool().backend_name
    assert pa.array(np.arange(10)).sum().as_py() == 45  # allocations work from the new pool


def test_string_buffers_are_read_only_views_of_the_values_of_any_slice():
    array = pa.array(["ab", None, "cde", ""])
    for part in (array, array.slice(1, 3), array.slice(4), pa.array([], pa.string())):
        data, offsets = schema.string_buffers(part)
        assert not data.flags.writeable and not offsets.flags.writeable
        assert len(offsets) == len(part) + 1
        texts = [bytes(data[offsets[i] : offsets[i + 1]]).decode() for i in range(len(part))]
        assert texts == [t or "" for t in part.to_pylist()]
