"""Two Kubo peers joined over the swarm on loopback, no shared repository: the provider's
client asks only its own Kubo, which gets the author's blocks over bitswap; pins keep them
there once the author is gone."""

from __future__ import annotations

import os
from pathlib import Path

from ipfs_store import ContentNotFound, IpfsStore, KuboUnavailable

from .conftest import KuboPeers, read_tree, store_config, write_tree

MiB = 1024 * 1024


def _model(root: Path, seed: bytes) -> dict[str, bytes]:
    files = {
        "config.json": b'{"seed": "' + seed.hex().encode() + b'"}',
        "model.safetensors": os.urandom(2 * MiB + 7),
        "tokenizer/tokenizer.json": seed * 100,
    }
    return write_tree(root, files)


async def test_provider_fetches_over_bitswap_and_serves_from_its_pins(
    peers: KuboPeers, tmp_path: Path
) -> None:
    author_config = store_config(peers.author.api_url)
    provider_config = store_config(
        peers.provider.api_url, kubo_gateway_url=peers.provider.gateway_url
    )
    async with IpfsStore(author_config) as author, IpfsStore(provider_config) as provider:
        kept = _model(tmp_path / "kept", b"k")
        _model(tmp_path / "dropped", b"d")
        kept_cid = (await author.add(tmp_path / "kept")).cid
        dropped_cid = (await author.add(tmp_path / "dropped")).cid
        assert not peers.provider.has_block(str(kept_cid))  # separate repositories

        result = await provider.fetch(kept_cid, tmp_path / "out-1")
        assert read_tree(tmp_path / "out-1") == kept and result.is_dir
        assert "kubo " + peers.provider.api_url in result.source  # its own Kubo only
        assert peers.provider.has_block(str(kept_cid))
        await provider.pin(kept_cid, name="ocw-model")
        assert set(await provider.pins(name="ocw-model")) == {kept_cid}
        await provider.fetch(dropped_cid, tmp_path / "out-2")  # fetched, not pinned

        # The author's Kubo goes away; the provider's garbage collector runs.
        peers.author.kill()
        peers.provider.cli("repo", "gc")
        assert not peers.provider.has_block(str(dropped_cid))
        assert peers.provider.has_block(str(kept_cid))

        again = await provider.fetch(kept_cid, tmp_path / "out-3")
        assert read_tree(tmp_path / "out-3") == kept and again.size == result.size
        # Without a pin, nothing is left to serve it, and no peer has it any more.
        short = IpfsStore(
            store_config(
                peers.provider.api_url, kubo_gateway_url=peers.provider.gateway_url,
                read_timeout=2.0, request_timeout=3.0, retries=0,
            )
        )  # fmt: skip
        async with short:
            try:
                await short.fetch(dropped_cid, tmp_path / "out-4")
            except (ContentNotFound, KuboUnavailable):
                pass
            else:
                raise AssertionError("unpinned content outlived the garbage collector")
        assert not (tmp_path / "out-4").exists()
        await provider.unpin(kept_cid)
        assert await provider.pins(name="ocw-model") == {}
