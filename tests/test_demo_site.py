"""`python -m devstack.demo --site`: the same loop in a provider site's layout (the author's and
the providers' Kubo as two bitswap peers, tier 2 on a Redis Cluster): it finishes and adds up."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import demo

pytestmark = pytest.mark.timeout(240)


async def test_demo_site_layout_serves_and_adds_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = await demo.run(tmp_path, requests=2, site=True)
    assert len(results) == 2 and all(r.completion_tokens > 0 for r in results)
    printed = capsys.readouterr().out
    assert "(providers, bitswap peer)" in printed
    assert "Redis redis+cluster://" in printed
    assert "exactly that went to Ferdie and the providers" in printed
