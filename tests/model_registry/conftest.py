"""Fixtures of the model_registry tests (helpers in registry_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, make_registry

from devstack import LocalKubo


@pytest.fixture(scope="module")
def registry(kubo: LocalKubo) -> Iterator[Registry]:
    yield from make_registry(kubo)


@pytest.fixture
def model_dir(registry: Registry, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh tiny GPT-2 (different weights per test, so a different CID)."""
    seed = abs(hash(request.node.nodeid)) % 10_000
    path: Path = registry.models.build_model(tmp_path / "model", "gpt2", seed=seed)
    return path


@pytest.fixture
def author(monkeypatch: pytest.MonkeyPatch) -> str:
    """Sign as //Charlie through the environment (never an argument)."""
    monkeypatch.setenv("MODEL_REGISTRY_KEY_URI", "//Charlie")
    monkeypatch.delenv("MODEL_REGISTRY_KEY_FILE", raising=False)
    return "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"
