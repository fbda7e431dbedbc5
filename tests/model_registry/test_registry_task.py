"""The declared task must match the model directory: a causal LM is not registered as an
embedding model, nor a sentence-transformers encoder as a text model (nothing is uploaded)."""

from __future__ import annotations

import json
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


def test_check_accepts_embedding_models_and_names_their_allow_list(tmp_path: Path) -> None:
    from inference_engine.tiny import packaged_minilm
    from model_registry import plan_registration

    plan = plan_registration(packaged_minilm())
    assert plan.findings == () and (plan.model_type, plan.architecture) == ("bert", "BertModel")
    encoder = build_tiny_encoder(tmp_path / "encoder", "bert")
    config = json.loads((encoder / "config.json").read_text())
    config["model_type"] = "electra"
    (encoder / "config.json").write_text(json.dumps(config))
    (finding,) = [f for f in plan_registration(encoder).findings if f.kind == "architecture"]
    assert "embedding model_type 'electra'" in finding.message and "'bert'" in finding.message
