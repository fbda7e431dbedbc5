"""Helpers of the model_registry tests: a real chain (devnode, or the Rust runtime where a test
runs on both: tests/chains.py) and Kubo, tiny model directories."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from devstack import LocalKubo
from model_registry import __main__ as cli

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.chains import ChainKind, ChainUnderTest, running_chain  # noqa: E402


def engine_models() -> ModuleType:
    """tests/inference_engine/conftest.py (not a package) for its tiny-model builder."""
    path = ROOT / "tests" / "inference_engine" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_registry_tests_engine_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    node: ChainUnderTest
    kubo: LocalKubo
    models: ModuleType

    def run(
        self, capsys: pytest.CaptureFixture[str], *args: str, env: bool = True
    ) -> tuple[int, str, str]:
        """Run the CLI in-process against this node and Kubo; (exit code, stdout, stderr)."""
        extra = ["--url", self.node.url, "--ipfs-api", self.kubo.api_url] if env else []
        capsys.readouterr()
        code = cli.main([args[0], *extra, *args[1:]])  # later options win
        out, err = capsys.readouterr()
        return code, out, err

    def run_json(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
        code, out, _ = self.run(capsys, *args, "--json")
        return code, json.loads(out)


def make_registry(kubo: LocalKubo, kind: ChainKind = "devnode") -> Iterator[Registry]:
    """A chain of the module's own (devnode unless `kind` says), and the suite's shared Kubo."""
    for node in running_chain(kind, needs=("ModelRegistry", "Providers")):
        yield Registry(node, kubo, engine_models())
