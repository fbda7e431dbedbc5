"""A restart reconciles the local record with the chain (`Daemon._reconcile`), against devnode.

The record is written as a crash would have left it (the blocks that placed the requests
already processed), so only the reconciliation, not the block stream, can bring each job in
line: a queued job the chain still assigns is run, one whose request expired is marked so, one
the chain does not know fails, and a validation of no such request ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocw_daemon import (
    AccountId,
    ChainRequestId,
    Daemon,
    ExecJob,
    JobState,
    JobStore,
    ValidationJob,
    ValidationState,
)
from ocw_daemon._store import BlockChanges
from runtime_types import ChainClient
from runtime_types.generated.devnode import inference, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    BOB,
    DAVE,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    request,
    wait_terminal,
)
from tests.waiting import until

pytestmark = pytest.mark.timeout(180)

GONE = ChainRequestId(999_999)  # no such request on-chain


def _job(rid: int, state: JobState, info: types.InferenceRequest, cid: str) -> ExecJob:
    return ExecJob(
        ChainRequestId(rid), state, int(info.created_at), None, int(info.deadline),
        AccountId(DAVE.public_key), int(info.price_per_1k_tokens), cid, int(info.max_tokens),
        b"hello world", None,
    )  # fmt: skip


async def test_restart_reconciles_each_recorded_job_with_the_chain(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    model_id = await register_model(chain, tiny_cid)
    config = daemon_config(tmp_path, "bob", node.url, kubo.api_url, free_port())
    await register_provider(chain, BOB, config.endpoint, [model_id])
    # placed while Bob's daemon is down: one it can still serve, one that expires meanwhile
    live = await request(chain, DAVE, model_id)
    lapsed = await request(chain, DAVE, model_id, deadline_blocks=2)
    expired = await wait_terminal(chain, [lapsed])
    assert type(expired[lapsed].state).__variant_name__ == "Expired"
    infos: dict[int, types.InferenceRequest] = {}
    for rid in (live, lapsed):
        info = await chain.query(inference.storage.requests(rid))
        assert info is not None
        infos[rid] = info
    head = await chain.head_number(finalized=True)

    async with JobStore(config.database) as store:
        await store.commit_block(
            BlockChanges(
                head,
                [
                    _job(live, JobState.QUEUED, infos[live], tiny_cid),
                    # it claims its result went out: the chain says the request expired
                    _job(lapsed, JobState.SUBMITTED, infos[lapsed], tiny_cid),
                    _job(GONE, JobState.QUEUED, infos[live], tiny_cid),
                ],
                [ValidationJob(GONE, ValidationState.PENDING, head + 20)],
            )
        )

    bob = Daemon(config, BOB)
    await bob.start()
    try:
        # reconciled before start() returns
        gone = await bob.store.job(GONE)
        assert gone is not None and gone.state is JobState.FAILED and gone.error == "unknown"
        lapsed_job = await bob.store.job(lapsed)
        assert lapsed_job is not None and lapsed_job.state is JobState.EXPIRED
        # the live job is run from the record alone (its block is not replayed)
        final = await wait_terminal(chain, [live])
        assert type(final[live].state).__variant_name__ == "Completed"

        async def settled() -> bool:
            job = await bob.store.job(live)
            validation = await bob.store.validation(GONE)
            return (
                job is not None and job.state is JobState.COMPLETED
                and validation is not None and validation.state is ValidationState.DONE
            )  # fmt: skip

        await until(settled, 30, "the live job completed and the unknown validation ended")
        job = await bob.store.job(live)
        assert job is not None and job.output is not None and job.completion_tokens > 0
    finally:
        await bob.close()
