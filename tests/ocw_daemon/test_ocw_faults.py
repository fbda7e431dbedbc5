"""Faults at the boundaries: Redis stopped mid-run, Kubo stopped, an unknown CID and a hostile
(pickle) model. Each failing request ends cleanly on-chain (expiry, full refund) while the
daemon keeps serving the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipfs_store import IpfsStore, cid_of_bytes
from ocw_daemon import Daemon, JobState
from runtime_types import ChainClient
from tests.cache.helpers import RedisServer
from tests.chains import on_both_chains
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon, start_kubo, store_config
from tests.ocw_daemon.helpers import (
    BOB,
    CHARLIE,
    DAVE,
    MODEL_CURRENCY,
    PRICE,
    build_hostile_model,
    build_tiny_model,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    request,
    scan,
    token_balance,
    wait_terminal,
)

pytestmark = pytest.mark.timeout(240)


def state(info: object) -> str:
    return type(info.state).__variant_name__


async def test_redis_stopped_mid_run_requests_still_complete(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    tiny_cid: str,
    redis_server: RedisServer,
) -> None:
    other = build_tiny_model(tmp_path / "other", seed=7)
    other_cid = str((await store.add(other)).cid)
    model_a = await register_model(chain, tiny_cid, b"a")
    model_b = await register_model(chain, other_cid, b"b")
    daemons = []
    for who, name in ((BOB, "bob"), (CHARLIE, "charlie")):
        config = daemon_config(
            tmp_path, name, node.url, kubo.api_url, free_port(), redis_server.url
        )
        await register_provider(chain, who, config.endpoint, [model_a, model_b])
        daemons.append(await Daemon(config, who).start())
    try:
        first = await request(chain, DAVE, model_a, b"hello world")
        assert state((await wait_terminal(chain, [first], 90))[first]) == "Completed"
        assert any(d.cache.metrics().bytes_to_tier2 > 0 for d in daemons)
        redis_server.kill()
        ids = [await request(chain, DAVE, m, b"hello chain") for m in (model_b, model_a, model_b)]
        final = await wait_terminal(chain, ids, 90)
        assert {state(i) for i in final.values()} == {"Completed"}
        assert sum(d.cache.metrics().tier2_bypassed for d in daemons) > 0
    finally:
        for d in daemons:
            await d.close()


@on_both_chains
async def test_kubo_stopped_bounded_retries_then_expiry_with_refund(
    tmp_path: Path, node: NodeThread, chain: ChainClient, tiny_model_dir: Path
) -> None:
    own = start_kubo(tmp_path / "kubo")
    async with IpfsStore(store_config(own.api_url)) as private:
        cid = str((await private.add(tiny_model_dir)).cid)
    model_id = await register_model(chain, cid)
    config = daemon_config(
        tmp_path, "bob", node.url, own.api_url, free_port(), job_attempts=3, retry_backoff_s=0.1
    )
    await register_provider(chain, BOB, config.endpoint, [model_id])
    before = await token_balance(chain, DAVE, MODEL_CURRENCY)
    async with Daemon(config, BOB) as daemon:
        own.stop()
        rid = await request(chain, DAVE, model_id, b"hello world", deadline_blocks=15)
        final = await wait_terminal(chain, [rid], 60)
        assert state(final[rid]) == "Expired"
        job = await daemon.store.job(rid)
        assert job is not None and job.attempts == 3
        assert job.state in (JobState.FAILED, JobState.EXPIRED)
        assert job.error is not None and cid in job.error
    log = await scan(chain, final[rid].created_at, await chain.head_number())
    (expired,) = log.events["RequestExpired"]
    assert int(expired.refund) == -(-(4 + 6) * PRICE // 1000)
    assert await token_balance(chain, DAVE, MODEL_CURRENCY) == before


async def test_unknown_cid_and_hostile_model_fail_cleanly_while_others_are_served(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    tiny_cid: str,
    tiny_model_dir: Path,
) -> None:
    hostile = build_hostile_model(tmp_path / "hostile", tiny_model_dir)
    hostile_cid = str((await store.add(hostile)).cid)
    missing_cid = str(cid_of_bytes(b"no such model anywhere").cid)
    good = await register_model(chain, tiny_cid, b"good")
    bad = await register_model(chain, hostile_cid, b"hostile")
    gone = await register_model(chain, missing_cid, b"missing")
    config = daemon_config(
        tmp_path, "bob", node.url, kubo.api_url, free_port(), job_attempts=2, retry_backoff_s=0.1
    )
    await register_provider(chain, BOB, config.endpoint, [good, bad, gone])
    before = await token_balance(chain, DAVE, MODEL_CURRENCY)
    async with Daemon(config, BOB) as daemon:
        r_bad = await request(chain, DAVE, bad, b"hello world", deadline_blocks=15)
        r_gone = await request(chain, DAVE, gone, b"hello world", deadline_blocks=15)
        r_good = await request(chain, DAVE, good, b"hello world", deadline_blocks=60)
        final = await wait_terminal(chain, [r_bad, r_gone, r_good], 90)
        assert state(final[r_good]) == "Completed"
        assert state(final[r_bad]) == "Expired" and state(final[r_gone]) == "Expired"
        bad_job = await daemon.store.job(r_bad)
        assert bad_job is not None and bad_job.attempts == 1  # refused, never retried
        assert bad_job.error is not None and "pickle" in bad_job.error.lower()
        gone_job = await daemon.store.job(r_gone)
        assert gone_job is not None and gone_job.error is not None
        # still serving after both failures
        again = await request(chain, DAVE, good, b"hello again", deadline_blocks=60)
        assert state((await wait_terminal(chain, [again], 60))[again]) == "Completed"
    log = await scan(chain, final[r_bad].created_at, await chain.head_number())
    refunds = {int(e.request_id): int(e.refund) for e in log.events["RequestExpired"]}
    escrow = -(-(4 + 6) * PRICE // 1000)
    assert refunds == {r_bad: escrow, r_gone: escrow}
    costs = sum(int(e.cost) for e in log.events["InferencePaid"])
    assert await token_balance(chain, DAVE, MODEL_CURRENCY) == (before[0] - costs, 0)
