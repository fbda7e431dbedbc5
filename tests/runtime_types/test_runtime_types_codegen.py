"""Code generation over real-chain metadata (Kusama, Substrate, contracts node; V14 and V15) and
devnode's runtime: the packages import, pass ruff and `mypy --strict`, and read as intended."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scalecodec.base import ScaleBytes

from runtime_types import MetadataDecodeError, codegen, decode_metadata
from runtime_types._metadata import VariantDef

from .conftest import ALL_FIXTURES, FIXTURES, package_name, scalecodec_runtime

VENV_BIN = Path(sys.executable).parent
PACKAGES = [package_name(f) for f in ALL_FIXTURES] + ["rtgen_devnode"]


def test_generated_packages_pass_mypy_strict(generated_root: Path) -> None:
    """One mypy run over every generated package (kusama alone is ~300 modules)."""
    started = time.monotonic()
    args = [str(VENV_BIN / "mypy"), "--strict", "--no-incremental", "--follow-imports=silent"]
    for package in PACKAGES:
        args += ["-p", package]
    result = subprocess.run(
        args,
        cwd=Path(__file__).resolve().parents[2],
        env={"MYPYPATH": str(generated_root), "PATH": str(VENV_BIN)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout
    checked = int(re.search(r"in (\d+) source files", result.stdout).group(1))  # type: ignore[union-attr]
    assert checked > 1000
    print(f"mypy --strict over {checked} generated modules: {time.monotonic() - started:.1f}s")


def test_generated_packages_pass_ruff(generated_root: Path) -> None:
    config = Path(__file__).resolve().parents[2] / "pyproject.toml"
    for command in (["format", "--check"], ["check"]):
        result = subprocess.run(
            [str(VENV_BIN / "ruff"), *command, "--config", str(config), str(generated_root)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_package_mirrors_the_metadata(fixture: str, load_generated: Any) -> None:
    raw = (FIXTURES / f"{fixture}.scale").read_bytes()
    package = load_generated(fixture)
    metadata = package.BINDINGS.metadata
    assert "0x" + hashlib.blake2b(metadata.raw, digest_size=32).hexdigest() == package.METADATA_HASH
    assert (15 if fixture.endswith("v15") else 14) == package.METADATA_VERSION
    assert metadata.raw in raw
    assert list(package.PALLETS) == [p.name for p in metadata.pallets]
    for pallet in metadata.pallets:
        module = package.PALLETS[pallet.name]
        if pallet.calls is not None:
            variants = metadata.types[pallet.calls].definition
            assert isinstance(variants, VariantDef)
            builders = [
                name
                for name, obj in vars(module.calls).items()
                if inspect.isfunction(obj) and obj.__module__ == module.calls.__name__
            ]
            assert len(builders) == len(variants.variants)
            assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in builders)
        if pallet.error is not None:
            errors = metadata.types[pallet.error].definition
            assert isinstance(errors, VariantDef)
            assert len(module.errors.ERRORS) == len(errors.variants)
            for error_cls, variant in zip(module.errors.ERRORS, errors.variants, strict=True):
                assert (error_cls.pallet_index, error_cls.error_index) == (
                    pallet.index,
                    variant.index,
                )
        if pallet.storage:
            assert all(
                hasattr(module.storage, codegen.ident(codegen.snake(e.name)))
                for e in pallet.storage
            )
    classes = [obj for obj in vars(package.types).values() if isinstance(obj, type)]
    assert len(classes) > 50
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9_]*", cls.__name__) for cls in classes)


def test_readable_names_and_docstrings(load_generated: Any) -> None:
    kusama = load_generated("kusama-v14")
    transfer = kusama.balances.calls.transfer_keep_alive
    assert list(inspect.signature(transfer).parameters) == ["dest", "value"]
    assert "transfer_allow_death" in (transfer.__doc__ or "")
    assert kusama.types.AccountInfo.__doc__.startswith("`frame_system::AccountInfo`")
    assert kusama.balances.events.Transfer.__variant_name__ == "Transfer"
    assert kusama.balances.errors.InsufficientBalance.__doc__
    assert kusama.system.storage.account.__doc__
    # Event field `from` is a keyword: the field is `from_`.
    fields = [f.name for f in dataclasses.fields(kusama.balances.events.Transfer)]
    assert fields == ["from_", "to", "amount"]


@pytest.mark.parametrize("fixture", ["kusama-v14", "substrate-v14"])
def test_constants_equal_scalecodec_decoding(fixture: str, load_generated: Any) -> None:
    package = load_generated(fixture)
    config = scalecodec_runtime(package.METADATA)
    metadata = package.BINDINGS.metadata
    checked = 0
    for pallet in metadata.pallets:
        for constant in pallet.constants:
            ours = getattr(
                package.PALLETS[pallet.name].constants, codegen.snake(constant.name).upper()
            )
            assert package.BINDINGS.codec.encode(constant.type, ours) == constant.value
            obj = config.create_scale_object(
                f"scale_info::{constant.type}", ScaleBytes(constant.value)
            )
            obj.decode()
            if isinstance(obj.value, int | bool) and isinstance(ours, int | bool):
                assert ours == obj.value
                checked += 1
    assert checked > 40


def test_v15_is_decoded_and_generated(load_generated: Any) -> None:
    v15 = load_generated("substrate-v15")
    v14 = load_generated("substrate-v14")
    assert v15.BINDINGS.metadata.version == 15
    assert len(v15.PALLETS) == 85
    metadata = v15.BINDINGS.metadata
    assert metadata.types[metadata.extrinsic.type].path[-1] == "RuntimeCall"  # V15 layout
    call = v15.system.calls.remark(b"hi")
    assert v15.BINDINGS.encode_call(call) == v14.BINDINGS.encode_call(
        v14.system.calls.remark(b"hi")
    )


def test_cli_writes_package_and_reports_bad_metadata(tmp_path: Path, capsys: Any) -> None:
    source = FIXTURES / "substrate-contracts-node-v14.scale"
    out = tmp_path / "contracts"
    assert codegen.main([str(source), "--out", str(out), "--no-format"]) == 0
    assert (out / "types.py").exists() and (out / "contracts" / "calls.py").exists()
    bad = tmp_path / "bad.scale"
    bad.write_bytes(b"meta\x0dxxxx")
    assert codegen.main([str(bad), "--out", str(tmp_path / "bad")]) == 1
    assert "version 13 is not supported" in capsys.readouterr().err


def test_metadata_decoder_rejects_garbage() -> None:
    with pytest.raises(MetadataDecodeError):
        decode_metadata(b"nope")
    raw = (FIXTURES / "substrate-contracts-node-v14.scale").read_bytes()
    with pytest.raises(MetadataDecodeError):
        decode_metadata(raw[:1000])


def test_cli_generates_from_a_live_node(tmp_path: Path) -> None:
    import importlib

    import devnode
    from tests.devnode.conftest import start_node

    running = start_node()
    try:
        out = tmp_path / "live_devnode"
        assert codegen.main(["--url", running.url, "--out", str(out), "--no-format"]) == 0
    finally:
        running.stop()
    sys.path.insert(0, str(tmp_path))
    try:
        live = importlib.import_module("live_devnode")
    finally:
        sys.path.remove(str(tmp_path))
    # The newest version the node offers (Metadata_metadata_at_version), not state_getMetadata.
    expected = "0x" + hashlib.blake2b(devnode.RUNTIME.metadata(16), digest_size=32).hexdigest()
    assert expected == live.METADATA_HASH and live.METADATA_VERSION == 16
    assert "--url" in (live.__doc__ or "")
