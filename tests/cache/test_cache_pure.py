"""Pure logic: policies, demand estimator, preload planning, manifests, simulator, disk cap."""

from __future__ import annotations

import math
import os
from collections.abc import Hashable
from pathlib import Path
from typing import cast

import pytest

from cache import (
    DEFAULT_POLICY,
    CacheConfig,
    DemandEstimator,
    EvictionPolicy,
    GreedyDualPolicy,
    InsufficientSpaceError,
    Keys,
    LRUPolicy,
    Manifest,
    ManifestError,
    ModelKey,
    infinite_cache_bound,
    interval_upper_bound,
    lognormal_sizes,
    make_policy,
    offline_belady,
    plan_preload,
    replay,
    zipf_trace,
)
from cache._disk import DiskStore
from cache._manifest import list_files, plan_manifest_files, read_chunks


def drain(policy: EvictionPolicy[Hashable]) -> list[Hashable]:
    order = []
    while len(policy):
        victim = policy.victim()
        policy.remove(victim)
        order.append(victim)
    return order


def test_lru_evicts_least_recently_used() -> None:
    policy: LRUPolicy[str] = LRUPolicy()
    for key in "abc":
        policy.insert(key, 10)
    policy.hit("a")
    assert "b" in policy and "z" not in policy
    assert drain(policy) == ["b", "c", "a"]  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        policy.victim()


def test_lfu_da_keeps_frequent_and_ages_out() -> None:
    policy = make_policy("lfu-da")
    policy.insert("big-hot", 1000)
    policy.insert("small-cold", 1)
    for _ in range(3):
        policy.hit("big-hot")
    assert policy.victim() == "small-cold"  # frequency, not size, for byte hit ratio
    policy.remove("small-cold")
    # Inflation: each eviction raises L, so newcomers (L + 1) catch up with an entry that
    # stopped being requested, and it ages out instead of staying forever.
    victims = []
    for i in range(4):
        policy.insert(f"n{i}", 10)
        victims.append(policy.victim())
        policy.remove(victims[-1])
    assert victims == ["n0", "n1", "big-hot", "n2"]  # L: 1 (small-cold), 2, 3, then 4 = big-hot


def test_gdsf_prefers_evicting_large_entries() -> None:
    policy = make_policy("gdsf")
    policy.insert("large", 1000)
    policy.insert("small", 10)
    assert policy.victim() == "large"


def test_history_restores_frequency() -> None:
    with_history = GreedyDualPolicy[str]("h", float, history=8)
    for _ in range(5):
        with_history.insert("x", 10) if "x" not in with_history else with_history.hit("x")
    with_history.remove("x")
    with_history.insert("y", 10)
    with_history.insert("x", 10)  # comes back with count 6
    with_history.hit("y")
    assert with_history.victim() == "y"


def test_unknown_policy_and_default() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("nope")
    assert CacheConfig(disk_dir=Path("/tmp")).policy == DEFAULT_POLICY


def test_demand_estimator_half_life() -> None:
    est: DemandEstimator[str] = DemandEstimator(half_life=10.0)
    est.observe("a", 0.0)
    est.observe("a", 0.0)
    assert est.estimate("a", 10.0) == pytest.approx(1.0)
    est.observe("a", 10.0)
    assert est.estimate("a", 20.0) == pytest.approx(1.0)
    est.observe("b", 0.0)
    assert est.snapshot(1000.0) == {}  # decayed below the floor: forgotten
    assert est.estimate("b", 0.0) == 0.0


def test_plan_preload_greedy_by_demand() -> None:
    demand = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 0.0, "e": 2.0}
    sizes = {"a": 60, "b": 50, "c": 30, "d": 1, "e": 10}
    assert plan_preload(demand, sizes, 100) == ["a", "c", "e"]
    assert plan_preload(demand, sizes, 100, already=["a"]) == ["c", "e"]


def test_manifest_round_trip_and_validation(tmp_path: Path) -> None:
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "w").write_bytes(b"x" * 25)
    (tmp_path / "m" / "sub" / "e").write_bytes(b"")
    is_dir, files = list_files(tmp_path / "m")
    assert is_dir and files == [("sub/e", 0), ("w", 25)]
    entries = plan_manifest_files(files, 10)
    chunks = list(read_chunks(tmp_path / "m", entries, 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    manifest = Manifest(ModelKey("bafy"), 10, True, entries, ("h0", "h1", "h2"))
    assert Manifest.decode(manifest.encode()) == manifest
    assert [(r.index, r.file, r.offset, r.length) for r in manifest.chunk_refs()] == [
        (0, 1, 0, 10),
        (1, 1, 10, 10),
        (2, 1, 20, 5),
    ]
    bad_path = manifest.encode().replace(b'"sub/e"', b'"../e"')
    with pytest.raises(ManifestError, match="unsafe path"):
        Manifest.decode(bad_path)
    with pytest.raises(ManifestError):
        Manifest.decode(manifest.encode().replace(b'"h2"', b""))
    with pytest.raises(ManifestError):
        Manifest.decode(b"not json")


def test_keys_share_one_cluster_slot() -> None:
    keys = Keys("mc", ModelKey("bafyabc"))
    names = [keys.manifest, keys.lock, keys.chunk(3), keys.staging("t", 3)]
    assert all(n.startswith("mc:{bafyabc}:") for n in names)
    assert len(set(names)) == 4


def test_replay_never_exceeds_capacity() -> None:
    sizes = lognormal_sizes(50, mu=5, sigma=1, seed=3)
    trace = zipf_trace(50, 2000, 0.8, seed=4)
    capacity = sum(sizes) // 10

    class Checked(LRUPolicy[Hashable]):
        held = 0

        def insert(self, key: Hashable, size: int) -> None:
            super().insert(key, size)
            self.held += size
            assert self.held <= capacity

        def remove(self, key: Hashable) -> None:
            self.held -= sizes[cast(int, key)]
            super().remove(key)

    result = replay(trace, sizes, capacity, Checked())
    assert 0 < result.byte_hit_ratio < 1


@pytest.mark.parametrize("alpha", [0.6, 1.0])
def test_bounds_order(alpha: float) -> None:
    sizes = lognormal_sizes(80, mu=8, sigma=1, seed=1)
    trace = zipf_trace(80, 3000, alpha, seed=2)
    capacity = sum(sizes) // 10
    infinite = infinite_cache_bound(trace, sizes, warmup=500)
    upper = interval_upper_bound(trace, sizes, capacity, warmup=500)
    belady = offline_belady(trace, sizes, capacity, warmup=500)
    for name in ("lru", "gdsf", "lfu-da", DEFAULT_POLICY):
        online = replay(trace, sizes, capacity, make_policy(name), warmup=500)
        assert online.byte_hit_ratio <= upper.byte_hit_ratio + 1e-9
    assert belady.byte_hit_ratio <= upper.byte_hit_ratio + 1e-9
    assert upper.byte_hit_ratio <= infinite.byte_hit_ratio + 1e-9
    # With room for everything the interval bound is the infinite cache.
    full = interval_upper_bound(trace, sizes, sum(sizes), warmup=500)
    assert math.isclose(full.byte_hit_ratio, infinite.byte_hit_ratio)


def test_belady_is_optimal_on_unit_sizes() -> None:
    # Unit sizes: Belady (furthest next use, with bypass) is the exact optimum.
    trace = [0, 1, 2, 0, 1, 3, 0, 1, 2, 3]
    result = offline_belady(trace, [1, 1, 1, 1], 2)
    assert result.hits == 4  # 0,1 at 3,4; 0,1 at 6,7


def test_default_beats_lru_on_zipf() -> None:
    sizes = lognormal_sizes(200, mu=10, sigma=1, seed=5)
    trace = zipf_trace(200, 8000, 0.8, seed=6)
    capacity = sum(sizes) // 20
    lru = replay(trace, sizes, capacity, make_policy("lru"), warmup=1000)
    best = replay(trace, sizes, capacity, make_policy(DEFAULT_POLICY), warmup=1000)
    assert best.byte_hit_ratio > lru.byte_hit_ratio


def test_disk_reserve_evicts_and_reports_size(tmp_path: Path) -> None:
    disk = DiskStore(tmp_path / "d", capacity=100)
    for name, size in (("old", 40), ("new", 40)):
        staged = disk.staging() / "x"
        staged.write_bytes(b"x" * size)
        disk.commit(ModelKey(name), staged)
    os.utime(disk.path(ModelKey("old")), (1, 1))
    evicted = disk.reserve(50, ModelKey("incoming"))
    assert [e.key for e in evicted] == ["old"] and evicted[0].size == 40
    with pytest.raises(InsufficientSpaceError) as info:
        disk.reserve(101, ModelKey("huge"))
    assert info.value.requested == 101 and str(tmp_path / "d") in str(info.value)
    fd = disk.try_lock(ModelKey("new"))
    assert fd is not None and disk.try_lock(ModelKey("new")) is None
    with pytest.raises(InsufficientSpaceError):  # the only entry is locked: cannot evict
        disk.reserve(90, ModelKey("other"))
    disk.unlock(fd)


@pytest.mark.parametrize("name", ["lru", "lfu-da", "gdsf", "lfu-da-h"])
def test_victim_skips_excluded_entries(name: str) -> None:
    policy = make_policy(name)
    for key in ("a", "b", "c"):
        policy.insert(key, 10)
    first = policy.victim()
    second = policy.victim(exclude={first})
    assert second != first and second in policy
    with pytest.raises(KeyError):
        policy.victim(exclude={"a", "b", "c"})
