"""A `ModelUpdated` whose prefetch fails: logged, nothing loaded, and the daemon carries on.

Version 2 of a served model is a model the engine refuses (a pickle file): the prefetch that
`ModelUpdated` starts (load it next to the loaded version 1) fails while loading it. The
failure is logged with the version's CID, version 2 is not in tier 1, demand counts for it
from then on (its first request tries again), and the next update (version 3, a good model)
is prefetched: its files, as version 2 never loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cache import ModelKey
from ipfs_store import IpfsStore
from ocw_daemon import Daemon
from runtime_types import ChainClient
from runtime_types.generated.devnode import model_registry, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    ALICE,
    BOB,
    DAVE,
    build_hostile_model,
    build_tiny_model,
    daemon_config,
    free_port,
    ok,
    register_model,
    register_provider,
    request,
)
from tests.waiting import until

pytestmark = pytest.mark.timeout(180)


async def test_a_failed_prefetch_is_logged_and_the_next_version_still_prefetched(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    tiny_cid: str,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ocw_daemon")
    model_id = await register_model(chain, tiny_cid)
    config = daemon_config(tmp_path, "bob", node.url, kubo.api_url, free_port())
    await register_provider(chain, BOB, config.endpoint, [model_id])
    bob = Daemon(config, BOB)
    await bob.start()
    try:
        await request(chain, DAVE, model_id)  # loads version 1
        await until(lambda: ModelKey(tiny_cid) in bob.cache, 60, "version 1 loaded")

        hostile = build_hostile_model(tmp_path / "hostile", tiny_model_dir)
        v2 = str((await store.add(hostile)).cid)
        await ok(
            chain, model_registry.calls.update_model(types.H256(model_id), v2.encode(), 1), ALICE
        )

        def failed() -> bool:
            return any(
                r.levelno == logging.WARNING and r.getMessage().startswith(f"prefetch of {v2} ")
                for r in caplog.records
            )

        await until(failed, 60, "the failed prefetch logged")
        assert ModelKey(v2) not in bob.cache
        assert ModelKey(tiny_cid) in bob.cache  # the loaded version is untouched
        assert bob.models.current[model_id] == v2  # demand counts for the new version

        # version 2 never loaded, so version 3's files are fetched (not loaded) ahead of time
        v3 = str((await store.add(build_tiny_model(tmp_path / "v3", seed=8))).cid)
        fetches = bob.cache.metrics().origin_fetches
        await ok(
            chain, model_registry.calls.update_model(types.H256(model_id), v3.encode(), 1), ALICE
        )
        await until(
            lambda: bob.cache.metrics().origin_fetches == fetches + 1, 60, "version 3 prefetched"
        )
        assert bob.models.current[model_id] == v3
        assert not any(f"prefetch of {v3} " in r.getMessage() for r in caplog.records)
        assert not bob.stopping
    finally:
        await bob.close()
