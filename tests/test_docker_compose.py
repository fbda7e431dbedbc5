"""docker-compose.yml and Dockerfile: `docker compose config` where the client has it, and an
offline check of the Compose specification's essentials everywhere (this machine's docker CLI
has no compose plugin)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

TOP_LEVEL = {"name", "services", "volumes", "networks", "secrets", "configs"}
SERVICE_KEYS = {
    "build", "image", "command", "entrypoint", "environment", "env_file", "ports", "volumes",
    "healthcheck", "depends_on", "deploy", "restart", "profiles", "secrets", "configs",
    "stop_signal", "stop_grace_period", "networks", "user", "working_dir", "labels", "ulimits",
    "shm_size", "logging", "expose", "cap_add", "cap_drop", "read_only", "tmpfs", "init",
}  # fmt: skip
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def resolve(value: str) -> str:
    """Interpolate `${VAR:-default}` with the defaults (what an unset environment gives)."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict) and found
    return found


def has_compose_plugin() -> bool:
    try:
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(not has_compose_plugin(), reason="docker compose is not installed here")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    key = tmp_path / "ocw.key"
    key.write_text("//Alice\n")
    env = {**os.environ, "OCW_KEY_SECRET_FILE": str(key)}
    for profile in ([], ["--profile", "runtime"]):
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), *profile, "config", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr


def test_top_level_and_service_keys_are_known() -> None:
    data = compose()
    assert "version" not in data  # obsolete in the Compose specification
    unknown = {k for k in data if k not in TOP_LEVEL and not k.startswith("x-")}
    assert not unknown
    for name, service in services().items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        assert "image" in service or "build" in service, name


def test_the_stack_has_its_services_and_a_real_node_profile() -> None:
    found = services()
    assert {"devnode", "kubo", "redis", "ocw-daemon"} <= set(found)
    real = [s for s in found.values() if "runtime" in s.get("profiles", [])]
    # the real-node profile runs our runtime: built from chain/Dockerfile, which builds the wasm
    # with the project's scripts and runs it on chopsticks
    assert len(real) == 1 and real[0]["build"]["dockerfile"] == "chain/Dockerfile"
    dockerfile = (ROOT / "chain" / "Dockerfile").read_text()
    assert "cargo build --locked -p genai-runtime-wasm" in dockerfile
    assert "scripts/chain-spec.sh" in dockerfile and "--genesis=" in dockerfile
    for name in ("devnode", "kubo", "redis", "ocw-daemon"):
        assert "profiles" not in found[name], name  # started by a plain `docker compose up`


@pytest.mark.parametrize("name", sorted(services()))
def test_images_are_pinned_by_version(name: str) -> None:
    image = resolve(str(services()[name]["image"]))
    if "@sha256:" in image:
        return
    repository, sep, tag = image.rpartition(":")
    assert sep and "/" not in tag and repository, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not a version"


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = services()[name]["healthcheck"]
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) >= 2
    for key in ("interval", "timeout", "start_period"):
        assert DURATION.match(str(check[key])), (name, key, check[key])
    assert int(check["retries"]) >= 1


def test_named_volumes_secrets_and_configs_are_declared() -> None:
    data = compose()
    declared = set(data.get("volumes") or {})
    used: set[str] = set()
    for name, service in services().items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0] if isinstance(mount, str) else mount["source"]
            if not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in (data.get("secrets") or {}), (name, secret_name)
        for config in service.get("configs", []):
            config_name = config if isinstance(config, str) else config["source"]
            assert config_name in (data.get("configs") or {}), (name, config_name)
    assert used == declared, f"declared but unused volumes: {declared - used}"
    for service in ("devnode", "kubo", "redis", "ocw-daemon"):
        assert services()[service].get("volumes"), f"{service} keeps its state in a volume"


def test_depends_on_waits_for_healthy_services() -> None:
    found = services()
    for name, service in found.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in found, (name, target)
            assert spec["condition"] == "service_healthy" and "healthcheck" in found[target]
    assert set(found["ocw-daemon"]["depends_on"]) >= {"kubo", "redis", "devnode"}


def test_the_daemon_reserves_an_nvidia_gpu_and_stops_gracefully() -> None:
    daemon = services()["ocw-daemon"]
    devices = daemon["deploy"]["resources"]["reservations"]["devices"]
    gpus = [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d["capabilities"]]
    assert len(gpus) == 1 and (gpus[0].get("count") == "all" or int(gpus[0]["count"]) >= 1)
    assert daemon["stop_signal"] == "SIGTERM"
    assert DURATION.match(daemon["stop_grace_period"])
    environment = daemon["environment"]
    secrets = ("KEY_URI", "PASSWORD", "SEED", "MNEMONIC")
    assert not any(word in k for k in environment for word in secrets)  # keys: secrets only
    assert environment["OCW_KEYSTORE"] == "/run/secrets/ocw_daemon_key"
    assert daemon["secrets"] == ["ocw_daemon_key"]


def test_ports_are_well_formed_and_distinct_on_the_host() -> None:
    published: list[str] = []
    for name, service in services().items():
        for port in service.get("ports", []):
            parts = str(port).split(":")
            assert 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts[-2:]), (name, port)
            published.append(parts[-2])
    assert len(published) == len(set(published)), published


def test_dockerfile_base_is_pinned_and_copies_every_package() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.M)
    assert base is not None
    _, _, tag = base.group(1).partition(":")
    assert re.match(r"^\d+\.\d+\.\d+", tag), base.group(1)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in include:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), package
        assert (ROOT / package).is_dir()
    for service in ("devnode", "ocw-daemon"):
        assert services()[service]["build"]["dockerfile"] == DOCKERFILE.name
