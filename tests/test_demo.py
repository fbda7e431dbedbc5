"""The main job (`make demo`) on a real chain (devnode, and the Rust runtime), Kubo and Redis: it
must finish, and add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import RuntimeNodeMissing, demo
from tests.chains import ChainKind, runtime_missing

pytestmark = pytest.mark.timeout(240)


async def test_demo_serves_every_request_and_payments_add_up(  # type: ignore[no-untyped-def]
    tmp_path: Path, capsys, chain_kind: ChainKind
) -> None:
    """On devnode and on the Rust runtime (`make demo CHAIN=runtime`)."""
    try:
        results = await demo.run(tmp_path, requests=3, chain=chain_kind)
    except RuntimeNodeMissing as exc:
        runtime_missing(exc)
    assert len(results) == 3
    assert len({r.request_id for r in results}) == 3
    for result in results:
        assert result.completion_tokens > 0
        assert result.cost > 0 and result.cost + result.refund > result.cost
        assert result.source in ("executor", "ipfs")
    printed = capsys.readouterr().out
    assert "exactly that went to Ferdie and the providers" in printed
    assert "passed, checked by provider" in printed
    # the real embedding model, through the same on-chain loop: nearest sentences make sense
    assert (
        "nearest to 'Will it be wet outside tomorrow?': "
        "'Heavy rain is expected in the city tomorrow.'" in printed
    )
    assert (
        "nearest to 'Who checks that the providers are honest?': "
        "'Validators re-run a sample of the results and slash cheaters.'" in printed
    )
