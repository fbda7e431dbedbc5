"""Replay Zipf traces over a log-normal model catalog: policies against offline bounds.

For each Zipf alpha and each cache size (a share of the catalog's bytes) it prints the object
and byte hit ratios of every policy, of a feasible offline schedule (Belady with sizes, a
lower bound on the optimum) and of two upper bounds on the optimum (the interval/knapsack
bound and the infinite cache), then the default policy's byte hit ratio against LRU and
against the upper bound. Exits non-zero if the default does not beat LRU everywhere.

    .venv/bin/python bench/cache_sim.py [--objects N] [--requests N] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import time

from cache import (
    DEFAULT_POLICY,
    infinite_cache_bound,
    interval_upper_bound,
    lognormal_sizes,
    make_policy,
    offline_belady,
    replay,
    zipf_trace,
)

ALPHAS = (0.6, 0.8, 1.0, 1.2)
SHARES = (0.02, 0.05, 0.10, 0.20)
POLICY_NAMES = ("lru", "gdsf", "lfu-da", "lfu-da-h")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warmup = args.requests // 5
    # Median model ~2 GiB, sigma 1: most between 0.7 and 5.4 GiB, a tail of large ones.
    sizes = lognormal_sizes(args.objects, mu=21.5, sigma=1.0, seed=args.seed)
    catalog = sum(sizes)
    print(
        f"catalog: {args.objects} models, {catalog / 2**30:.0f} GiB; trace {args.requests} "
        f"requests (first {warmup} warm-up, not counted); default policy {DEFAULT_POLICY!r}"
    )
    failures = 0
    started = time.perf_counter()
    for alpha in ALPHAS:
        trace = zipf_trace(args.objects, args.requests, alpha, seed=args.seed + int(alpha * 100))
        infinite = infinite_cache_bound(trace, sizes, warmup=warmup)
        for share in SHARES:
            capacity = int(catalog * share)
            results = [
                replay(trace, sizes, capacity, make_policy(name), warmup=warmup)
                for name in POLICY_NAMES
            ]
            belady = offline_belady(trace, sizes, capacity, warmup=warmup)
            bound = interval_upper_bound(trace, sizes, capacity, warmup=warmup)
            print(f"\nalpha {alpha}  cache {share:.0%} of catalog ({capacity / 2**30:.0f} GiB)")
            print(f"  {'':14}{'object HR':>10}{'byte HR':>10}")
            for r in [*results, belady, infinite]:
                print(f"  {r.name:14}{r.object_hit_ratio:10.3f}{r.byte_hit_ratio:10.3f}")
            # The interval bound maximises byte hits; its object count is no bound.
            print(f"  {bound.name:14}{'-':>10}{bound.byte_hit_ratio:10.3f}")
            by_name = {r.name: r for r in results}
            default = by_name[DEFAULT_POLICY].byte_hit_ratio
            lru = by_name["lru"].byte_hit_ratio
            ok = default > lru
            failures += not ok
            print(
                f"  default/LRU byte HR {default / lru:.3f}{'' if ok else '  <-- NOT BETTER'}; "
                f"default/upper-bound {default / bound.byte_hit_ratio:.3f}; "
                f"default/belady-size {default / belady.byte_hit_ratio:.3f}; "
                f"LRU/upper-bound {lru / bound.byte_hit_ratio:.3f}"
            )
    print(
        f"\n{len(ALPHAS) * len(SHARES)} points in {time.perf_counter() - started:.1f} s; ", end=""
    )
    print("default beats LRU at every point" if not failures else f"{failures} points FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
