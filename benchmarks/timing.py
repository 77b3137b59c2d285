"""Shared timing helper for the benchmark scripts."""

import statistics
import time


def timed(fn, repeats=3, warmup=2):
    """Median wall time of `fn()` in seconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
