"""The committed bindings for devnode's runtime are current: regenerating gives the same files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

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
    """What `make bindings` runs: devnode writes its metadata to a file (its own process), and
    the codegen generates from that file in a process where devnode is never imported."""
    metadata = tmp_path / "devnode-metadata.scale"
    subprocess.run(
        [sys.executable, "-m", "devnode", "--write-metadata", str(metadata)], check=True, cwd=REPO
    )
    assert metadata.read_bytes() == devnode.RUNTIME.metadata(16)
    fresh = tmp_path / "devnode"
    script = (
        "import sys; from runtime_types import codegen; "
        "code = codegen.main(sys.argv[1:]); "
        "assert 'devnode' not in sys.modules, 'the codegen imported devnode'; "
        "raise SystemExit(code)"
    )
    command = [sys.executable, "-c", script, str(metadata), "--out", str(fresh)]
    subprocess.run([*command, "--command", codegen.DEVNODE_COMMAND], check=True, cwd=REPO)
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


def test_codegen_names_a_missing_metadata_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.scale"
    assert codegen.main([str(missing), "--out", str(tmp_path / "out")]) == 1
    assert "cannot read the metadata file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
