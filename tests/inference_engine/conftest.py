"""Fixtures: tiny random-weight models (`inference_engine.tiny`) built once per session and
loaded on the CPU; tests reach the builders through fixtures (`model_builder`, `config_editor`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference_engine import EngineConfig, LoadedModel, load_model
from inference_engine.tiny import build_tiny_model as build_model


def edit_config(directory: Path, **changes: object) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


@pytest.fixture(scope="session")
def model_builder() -> Callable[..., Path]:
    """`build_model(directory, kind, seed=..., tokenizer=...)` for tests that need a fresh dir."""
    return build_model


@pytest.fixture(scope="session")
def config_editor() -> Callable[..., None]:
    """`edit_config(directory, **changes)`: rewrite keys of a model's config.json."""
    return edit_config


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> Iterator[None]:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    yield


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("gpt2"), "gpt2", seed=1)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("llama"), "llama", seed=2)


@pytest.fixture(scope="session")
def other_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture and tokenizer as gpt2_dir, different weights."""
    return build_model(tmp_path_factory.mktemp("gpt2-other"), "gpt2", seed=99)


@pytest.fixture(scope="session")
def cpu() -> EngineConfig:
    return EngineConfig(device="cpu")


@pytest.fixture(scope="session")
def gpt2(gpt2_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(gpt2_dir, cpu)


@pytest.fixture(scope="session")
def llama(llama_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(llama_dir, cpu)


@pytest.fixture(scope="session")
def other_gpt2(other_gpt2_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(other_gpt2_dir, cpu)


@pytest.fixture(scope="session", params=["gpt2", "llama"])
def model(request: pytest.FixtureRequest) -> LoadedModel:
    """Each test using this runs on both the GPT-2 and the Llama-style model."""
    loaded: LoadedModel = request.getfixturevalue(request.param)
    return loaded
