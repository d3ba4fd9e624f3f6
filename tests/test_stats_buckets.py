"""Latency histograms: percentiles from log-spaced buckets stay within 10 % of exact ones."""

import itertools
import math
import random

import pytest

from aloft.stats import buckets


def exact(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


DISTRIBUTIONS = {
    "lognormal": lambda r: r.lognormvariate(3.5, 0.8),
    "uniform": lambda r: r.uniform(0.5, 2000),
    "exponential": lambda r: r.expovariate(1 / 80),
    "two modes": lambda r: r.gauss(12, 2) if r.random() < 0.7 else r.gauss(900, 150),
    "sub-millisecond": lambda r: r.uniform(0.05, 0.9),
    "timeouts": lambda r: r.choice([r.uniform(5, 50), 10_000.0, 59_999.0]),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("size", [1, 7, 100, 5000])
def test_percentiles_from_buckets_are_within_ten_percent_of_exact_ones(name, size):
    generator = random.Random(f"{name}-{size}")
    values = [max(0.01, DISTRIBUTIONS[name](generator)) for _ in range(size)]
    counts = buckets.histogram(values)
    for fraction in (0.5, 0.95, 0.99):
        wanted = exact(values, fraction)
        found = buckets.percentile(counts, fraction, min(values), max(values))
        assert abs(found - wanted) / wanted < 0.10, (name, size, fraction, wanted, found)
        if wanted >= buckets.FLOOR:  # below the first edge everything shares bucket 0, kept within the extremes
            assert abs(found - wanted) / wanted <= math.sqrt(buckets.RATIO) - 1 + 1e-9


def test_histograms_add_up_across_rollups():
    generator = random.Random(7)
    first = [generator.uniform(1, 500) for _ in range(300)]
    second = [generator.uniform(200, 3000) for _ in range(200)]
    assert buckets.merge([buckets.histogram(first), buckets.histogram(second)]) == buckets.histogram(first + second)
    assert buckets.merge([None, {}]) == {}


def test_bucket_edges_grow_by_ten_percent_from_a_tenth_of_a_millisecond_to_a_minute():
    edges = buckets.edges()
    assert edges[0] == buckets.FLOOR == 0.1
    assert all(math.isclose(later / earlier, 1.1) for earlier, later in itertools.pairwise(edges))
    assert edges[-1] < 60_000 <= edges[-1] * 1.1
    assert buckets.bucket_of(0.01) == 0 and buckets.bucket_of(1e9) == len(edges) - 1
    assert buckets.bucket_of(1.0) == 24, "1 ms = 0.1 × 1.1^24.2"


def test_no_latencies_have_no_percentile():
    assert buckets.percentile({}, 0.5, 0.0, 0.0) is None
