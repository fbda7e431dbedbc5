"""BASE INSTALL (marker `base_install`): `pip install .` without extras is enough for a dApp
developer or a model author, and never brings torch.

The test builds the project's wheel from the working tree, installs it into a fresh virtual
environment with its base dependencies only (no `[provider]`, no `[dev]`), and checks that
`inference_client`, `model_registry` and `protocol` import there with torch, transformers and
redis absent, that `infer --help` and `model-registry --help` run, and that the one registry
command that needs the engine (checking a model directory) says which extra to install.

The base dependencies' wheels are kept in a wheelhouse inside the project's venv
(`.venv/base-wheelhouse`): the first run fills it from PyPI (through pip's cache), later runs
install from it offline in a few seconds. A dependency change refills it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = Path(sys.prefix) / "base-wheelhouse"
HEAVY = ("torch", "transformers", "redis", "lru", "safetensors", "tokenizers")

pytestmark = [pytest.mark.base_install, pytest.mark.timeout(900)]


def _env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE off: the fresh venv compiles each module once, not per process
    dropped = ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _checked(*args: str | Path, cwd: Path) -> str:
    done = _run(*args, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _source_copy(target: Path) -> Path:
    """The project's packages, pyproject.toml and README.md, without build leftovers."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pattern in include:
        package = ROOT / pattern.rstrip("*")
        if package.is_dir():
            shutil.copytree(package, target / package.name, ignore=ignore)
    return target


def test_the_base_install_has_the_client_and_the_registry_cli_without_torch(
    tmp_path: Path,
) -> None:
    pip = (sys.executable, "-m", "pip")
    source = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    build = (*pip, "wheel", "--no-deps", "-w", dist, source)
    if _run(*build, "--no-build-isolation", cwd=tmp_path).returncode != 0:
        _checked(*build, cwd=tmp_path)  # the venv's setuptools is too old: an isolated build
    (wheel,) = dist.glob("genai_substrate-*.whl")

    venv = tmp_path / "venv"
    _checked(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    install = (*pip, "--python", python, "install", "--no-compile", "--no-index")
    done = _run(*install, "--find-links", WHEELHOUSE, wheel, cwd=tmp_path)
    if done.returncode != 0:  # first run, or the base dependencies changed: fill the wheelhouse
        _checked(*pip, "wheel", "-w", WHEELHOUSE, wheel, cwd=tmp_path)
        for built in WHEELHOUSE.glob("genai_substrate-*.whl"):
            built.unlink()  # the project's own wheel is built afresh every run
        _checked(*install, "--find-links", WHEELHOUSE, wheel, cwd=tmp_path)

    _checked(*pip, "--python", python, "check", cwd=tmp_path)

    probe = (
        "import importlib.metadata, importlib.util, json, sys\n"
        "import inference_client, model_registry, protocol, runtime_types, sealing\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps({\n"
        "    'loaded': [m for m in sys.modules if m.split('.')[0] in heavy],\n"
        "    'torch_installed': importlib.util.find_spec('torch') is not None,\n"
        "    'client': inference_client.__file__,\n"
        "    'installed': sorted(d.metadata['Name'].lower().replace('_', '-')\n"
        "                        for d in importlib.metadata.distributions()),\n"
        "}))\n"
    )
    report = json.loads(_checked(python, "-c", probe, cwd=tmp_path))
    assert report["loaded"] == []
    assert report["torch_installed"] is False
    assert Path(report["client"]).is_relative_to(venv), report["client"]  # not the checkout
    installed = set(report["installed"])
    assert "genai-substrate" in installed
    assert not installed & {"torch", "transformers", "redis", "lru-dict", "safetensors"}, installed

    usage = _checked(venv / "bin" / "infer", "--help", cwd=tmp_path)
    assert usage.startswith("usage: infer")
    assert "--model" in usage
    usage = _checked(venv / "bin" / "model-registry", "--help", cwd=tmp_path)
    assert usage.startswith("usage: model-registry")
    # checking a model directory uses the engine: a clear error names the extra, no traceback
    (tmp_path / "model").mkdir()
    refused = _run(venv / "bin" / "model-registry", "register", "model", "--check", cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "genai-substrate[provider]" in refused.stderr
    assert "Traceback" not in refused.stderr
