"""The declared task must match the model directory: a causal LM is not registered as an
embedding model, nor a sentence-transformers encoder as a text model (nothing is uploaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_engine.tiny import build_tiny_encoder
from tests.model_registry.registry_support import Registry

ARGS = ("--price", "5000", "--currency", "USDD")


def test_task_must_match_the_directory(
    registry: Registry,
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    tmp_path: Path,
    author: str,
) -> None:
    pinned_before = set(registry.kubo.cli("pin", "ls", "--type=recursive").stdout.split())
    code, wrong = registry.run_json(
        capsys, "register", str(model_dir), "--name", "lm", "--task", "embedding", *ARGS
    )
    assert code == 2 and wrong["error"] == "BadModelDir", wrong
    assert "text-generation model, not embedding" in wrong["message"]
    encoder = build_tiny_encoder(tmp_path / "encoder", "bert")
    code, wrong = registry.run_json(
        capsys, "register", str(encoder), "--name", "enc", "--task", "text-generation", *ARGS
    )
    assert code == 2 and "embedding model, not text-generation" in wrong["message"]
    assert set(registry.kubo.cli("pin", "ls", "--type=recursive").stdout.split()) == pinned_before
