"""The committed bindings for devnode's runtime are current: regenerating gives the same files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import devnode
from runtime_types import codegen
from runtime_types.generated import devnode as committed

REPO = Path(__file__).resolve().parents[2]
HINT = f"the committed bindings are stale: run `{codegen.DEVNODE_COMMAND}`"


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_metadata_hash_matches_devnode() -> None:
    current = "0x" + hashlib.blake2b(devnode.RUNTIME.metadata(16), digest_size=32).hexdigest()
    assert current == committed.METADATA_HASH, HINT


def test_committed_package_equals_a_fresh_generation(tmp_path: Path) -> None:
    fresh = tmp_path / "devnode"
    codegen.generate(devnode.RUNTIME.metadata(16), fresh, command=codegen.DEVNODE_COMMAND)
    expected, actual = _tree(fresh), _tree(REPO / codegen.DEVNODE_OUT)
    assert sorted(actual) == sorted(expected), HINT
    stale = [name for name in expected if expected[name] != actual[name]]
    assert stale == [], HINT


def test_committed_bindings_encode_a_transfer() -> None:
    t = committed.types
    call = committed.balances.calls.transfer_keep_alive(
        t.MultiAddressId(t.AccountId32(bytes(32))), 10**12
    )
    encoded = committed.BINDINGS.encode_call(call)
    assert encoded == devnode.RUNTIME.encode_call(
        "Balances", "transfer_keep_alive", {"dest": ("Id", bytes(32)), "value": 10**12}
    )
