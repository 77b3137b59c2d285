"""Shared timing helpers for the benchmark scripts.

Timings on a shared 2-core machine drift by tens of percent between
moments; measurements that are compared are therefore interleaved (A, B, A,
B, ...) and summarised by their medians.
"""

import statistics
import time


def timed(fn, repeats=3, warmup=2):
    """Median wall time of `fn()` in seconds, after `warmup` calls."""
    return interleaved([fn], repeats, warmup)[0]


def interleaved(fns, repeats=5, warmup=2):
    """Median wall times of several callables, measured alternately."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]
