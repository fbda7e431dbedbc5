"""Prometheus metrics of one daemon (its own registry, so several daemons share a process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cache import CacheMetrics

__all__ = ["DaemonMetrics"]

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class _Snapshot(Collector):
    """Values read at scrape time: jobs by state (from the store) and cache counters."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("ocw_jobs", "Jobs by role and state", labels=["role", "state"])
        for (role, state), n in sorted(self._metrics.job_counts.items()):
            jobs.add_metric([role, state], n)
        yield jobs
        cache = self._metrics.cache_metrics()
        if cache is not None:
            family = GaugeMetricFamily("ocw_cache", "Model cache counters", labels=["counter"])
            for name in (
                "tier1_hits", "tier1_misses", "disk_hits", "disk_misses", "tier2_hits",
                "tier2_misses", "origin_fetches", "tier2_bypassed", "loads", "tier1_bytes",
            ):  # fmt: skip
                family.add_metric([name], float(getattr(cache, name)))
            yield family


class DaemonMetrics:
    def __init__(self, cache_metrics: Callable[[], CacheMetrics | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cache_metrics = cache_metrics
        self.job_counts: dict[tuple[str, str], int] = {}
        self.latency = Histogram(
            "ocw_job_overhead_seconds",
            "Block seen to result submitted, minus inference",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "ocw_inference_seconds", "Inference time per job", registry=self.registry
        )
        self.tokens = Counter("ocw_tokens", "Tokens processed", ["kind"], registry=self.registry)
        self.earnings = Counter(
            "ocw_earnings", "Executor payouts received", ["currency"], registry=self.registry
        )
        self.outcomes = Counter(
            "ocw_job_outcomes", "Jobs reaching an outcome", ["role", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(_Snapshot(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)
