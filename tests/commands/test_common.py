"""The checks commands run before writing (issue 13, item 4): sizes, and the memory estimate's refusal."""

from __future__ import annotations

import os

import pytest

from duelbandit.commands._common import (
    ResourceError,
    check_memory,
    parse_size,
    physical_memory,
    plan_memory,
)
from duelbandit.errors import ConfigError
from duelbandit.types import Pool

POOL = Pool.from_lists(["p", "q"], [["a", "b", "c"], ["d", "e"]])  # 3 + 1 = 4 candidate pairs, 5 responses


@pytest.mark.parametrize("text, value", [("8G", 8 * 2**30), ("512MB", 512 * 2**20), ("1.5GiB", 3 * 2**29),
                                         ("1000000", 10**6), (" 2 k ", 2048), ("1t", 2**40)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "G", "8X", "-1G", "0", "eight"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(ConfigError, match="--max-memory"):
        parse_size(text)


def test_physical_memory_matches_the_os():
    assert physical_memory() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_the_estimate_counts_each_part_and_refuses_above_the_limit():
    plan = plan_memory(POOL, dim=10, budget=1000, bytes_per_label=100)
    # by hand: features 2*8*5*10, candidates 3*8*4*10, d x d 8*8*100, labels 1000*100
    assert (plan.features, plan.candidates, plan.matrices, plan.labels) == (800, 960, 6400, 100_000)
    assert check_memory(POOL, 10, 1000, plan.total, 100) == plan  # at the limit: allowed
    with pytest.raises(ResourceError, match=r"needs about 105\.6 KB .* above the limit of 105\.6 KB"):
        check_memory(POOL, 10, 1000, plan.total - 1, 100)
    with pytest.raises(ResourceError, match=r"--budget 1000, --dim 10, 4 candidate pairs"):
        check_memory(POOL, 10, 1000, 1000, 100)
