"""Row shares of several processes: contiguous, batch-aligned, covering every row exactly once."""

from __future__ import annotations

import pytest

from rapidun.influence.stage import shard_rows


@pytest.mark.parametrize(("n", "batch", "world"), [(10, 3, 2), (7, 8, 2), (100, 8, 3), (5, 1, 4), (3, 2, 5)])
def test_shards_partition_rows_on_batch_boundaries(n: int, batch: int, world: int):
    shards = [shard_rows(n, batch, r, world) for r in range(world)]
    assert shards[0][0] == 0 and shards[-1][1] == n
    for (s0, e0), (s1, _) in zip(shards, shards[1:]):
        assert e0 == s1 and s0 <= e0
    for s, e in shards:
        assert s == e or (s % batch == 0 and (e % batch == 0 or e == n))  # an idle process gets an empty share
    sizes = [-(-(e - s) // batch) for s, e in shards]
    assert max(sizes) - min(sizes) <= 1  # balanced in batches
