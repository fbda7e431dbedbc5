"""The model-registry command against a real chain and Kubo: devnode and the Rust runtime
(`chain_kind`; the runtime's variants carry the `runtime` marker)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, closed_port, make_registry

from devstack import LocalKubo
from ipfs_store import cid_of_path
from tests.chains import ChainKind

pytestmark = pytest.mark.timeout(180)

REGISTER = ("--name", "tiny-gpt2", "--task", "text-generation", "--price", "5000")


@pytest.fixture(scope="module")
def registry(kubo: LocalKubo, chain_kind: ChainKind) -> Iterator[Registry]:
    yield from make_registry(kubo, chain_kind)


def register(registry: Registry, capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code, out, err = registry.run(
        capsys, "register", str(path), *REGISTER, "--currency", "USDD", "--author-share", "25%"
    )
    assert code == 0, err
    return out.strip()


def test_register_uploads_pins_and_registers(
    registry: Registry, capsys: pytest.CaptureFixture[str], model_dir: Path, author: str
) -> None:
    code, out, err = registry.run(
        capsys, "register", str(model_dir), *REGISTER, "--currency", "USDD", "--author-share", "25%"
    )
    assert code == 0, err
    model_id = out.strip()
    assert model_id.startswith("0x") and len(model_id) == 66
    assert "uploading [" in err and "100%" in err  # the progress bar, on stderr
    code, shown = registry.run_json(capsys, "show", model_id)
    assert code == 0
    cid = str(cid_of_path(model_dir).cid)  # Kubo's CID equals the local one
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert shown["cid"] == cid and shown["size_bytes"] == size
    assert (shown["name"], shown["task"], shown["format"]) == (
        "tiny-gpt2",
        "TextGeneration",
        "Safetensors",
    )
    assert (shown["price_per_1k_tokens"], shown["currency_id"], shown["author_share"]) == (
        5000,
        2,
        250_000,
    )
    assert (shown["owner"], shown["version"], shown["status"]) == (author, 1, "Active")
    assert [v["cid"] for v in shown["versions"]] == [cid]
    assert cid in registry.kubo.cli("pin", "ls", "--type=recursive").stdout
    # the same directory again: refused before any extrinsic, with the chain's error name
    code, again = registry.run_json(
        capsys, "register", str(model_dir), *REGISTER, "--currency", "2", "--quiet"
    )
    assert code == 5 and again["chain_error"] == "DuplicateCid" and model_id in again["message"]


def test_update_set_price_deprecate_list(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    tmp_path: Path,
    author: str,
) -> None:
    model_id = register(registry, capsys, model_dir)
    second = registry.models.build_model(tmp_path / "v2", "gpt2", seed=4242)
    code, updated = registry.run_json(capsys, "update", model_id, str(second))
    assert code == 0
    assert updated["model_id"] == model_id and updated["version"] == 2
    assert updated["cid"] == str(cid_of_path(second).cid)
    assert [v["version"] for v in updated["versions"]] == [1, 2]

    code, priced = registry.run_json(
        capsys, "set-price", model_id, "--price", "777", "--currency", "INFER"
    )
    assert code == 0 and (priced["price_per_1k_tokens"], priced["currency_id"]) == (777, 1)

    code, listed = registry.run_json(capsys, "list", "--owner", author)
    assert code == 0 and model_id in [m["model_id"] for m in listed]
    assert all(m["owner"] == author for m in listed)
    code, others = registry.run_json(
        capsys, "list", "--owner", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    )
    assert code == 0 and model_id not in [m["model_id"] for m in others]

    code, deprecated = registry.run_json(capsys, "deprecate", model_id)
    assert code == 0 and deprecated["status"] == "Deprecated"
    code, refused = registry.run_json(
        capsys, "set-price", model_id, "--price", "1", "--currency", "1"
    )
    assert code == 5 and refused["chain_error"] == "ModelDeprecated"


def test_chain_errors_come_from_the_generated_classes(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    author: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_id = register(registry, capsys, model_dir)
    code, unknown = registry.run_json(
        capsys, "set-price", model_id, "--price", "1", "--currency", "99"
    )
    assert code == 5 and unknown["chain_error"] == "UnknownCurrency"
    assert "currency has no issuance" in unknown["message"]  # the error's documentation
    monkeypatch.setenv("MODEL_REGISTRY_KEY_URI", "//Dave")
    code, not_owner = registry.run_json(capsys, "deprecate", model_id)
    assert code == 5 and not_owner["chain_error"] == "NotOwner"
    code, missing = registry.run_json(capsys, "show", "0x" + "00" * 32)
    assert code == 5 and missing["chain_error"] == "UnknownModel"


@pytest.mark.parametrize(
    ("make_hostile", "reason"),
    [
        (lambda d: (d / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00."), "pickle weights"),
        (lambda d: (d / "modeling_evil.py").write_text("import os\n"), "remote code"),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps({**json.loads((d / "config.json").read_text()), "auto_map": {"x": "y"}})
            ),
            "remote code",
        ),
    ],
)
def test_hostile_models_are_refused_before_upload(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    author: str,
    make_hostile: object,
    reason: str,
) -> None:
    make_hostile(model_dir)  # type: ignore[operator]
    pinned_before = set(registry.kubo.cli("pin", "ls", "--type=recursive").stdout.split())
    code, refused = registry.run_json(
        capsys, "register", str(model_dir), *REGISTER, "--currency", "USDD"
    )
    assert code == 3 and refused["error"] == "HostileModel"
    assert refused["reason"] == f"{reason} refused"
    assert set(registry.kubo.cli("pin", "ls", "--type=recursive").stdout.split()) == pinned_before


def test_bad_directories_keys_and_services(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    tmp_path: Path,
    author: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, missing = registry.run_json(
        capsys, "register", str(tmp_path / "nope"), *REGISTER, "--currency", "2"
    )
    assert code == 2 and missing["error"] == "BadModelDir"
    empty = tmp_path / "no-weights"
    shutil.copytree(model_dir, empty)
    for weights in empty.glob("*.safetensors"):
        weights.unlink()
    code, no_weights = registry.run_json(
        capsys, "register", str(empty), *REGISTER, "--currency", "2"
    )
    assert code == 2 and no_weights["error"] == "BadModelDir"

    code, kubo_down = registry.run_json(
        capsys,
        "register",
        str(model_dir),
        *REGISTER,
        "--currency",
        "2",
        "--ipfs-api",
        f"http://127.0.0.1:{closed_port()}",
    )
    assert code == 4 and kubo_down["error"] == "IpfsUnavailable"

    config = tmp_path / "registry.toml"
    config.write_text(f'chain_url = "ws://127.0.0.1:{closed_port()}"\nconnect_timeout_s = 1.0\n')
    code, out, err = registry.run(capsys, "list", "--config", str(config), env=False)
    assert code == 5 and "NodeUnreachable" in err and "chain_url" in err and out == ""

    monkeypatch.delenv("MODEL_REGISTRY_KEY_URI")
    code, no_key = registry.run_json(capsys, "deprecate", "0x" + "11" * 32)
    assert code == 2 and "MODEL_REGISTRY_KEY_URI" in no_key["message"]
    monkeypatch.setenv("MODEL_REGISTRY_KEY_URI", "not a valid secret phrase at all")
    code, out, err = registry.run(capsys, "deprecate", "0x" + "11" * 32)
    assert code == 2 and "not a valid secret phrase" not in out + err


def test_key_from_a_keystore_file(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODEL_REGISTRY_KEY_URI", raising=False)
    key = tmp_path / "author.key"
    key.write_text("//Eve\n")
    os.chmod(key, 0o600)
    code, out, err = registry.run(
        capsys,
        "register",
        str(model_dir),
        *REGISTER,
        "--currency",
        "2",
        "--key-file",
        str(key),
        "--quiet",
    )
    assert code == 0, err
    assert "uploading" not in err
    code, shown = registry.run_json(capsys, "show", out.strip())
    assert shown["owner"] == "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw"
