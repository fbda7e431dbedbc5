"""`ocw-daemon check`: is this provider ready to go live? One result per item, each with its fix.

Read-only: it queries the node, Kubo, Redis, the endpoint and the machine, and never submits an
extrinsic. Items whose prerequisite failed (no node, no key) are reported as not checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from substrateinterface import Keypair

from runtime_types import ChainClient, ChainClientError, ClientConfig, IncompatibleMetadata
from runtime_types.generated.devnode import BINDINGS, model_registry, providers, system, tokens
from runtime_types.generated.devnode import types as rt_types

from ._config import DaemonConfig, load_config, load_encryption_key, load_keypair
from ._errors import DaemonError
from ._status import StatusError, verify_status

__all__ = ["CheckResult", "run_checks"]

#: Free native balance kept for transaction fees (1 UNIT: thousands of daemon extrinsics)
FEE_RESERVE = 10**12
STAKE_CURRENCY = providers.constants.STAKE_CURRENCY_ID
#: How long a model's CID may take to resolve on Kubo
RESOLVE_TIMEOUT_S = 10.0
_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checked item: `ok` True (✔), False (✘) or None (not checked: a prerequisite
    failed); `fix` says what to change when it is not ✔."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return {True: "\u2714", False: "\u2718", None: "-"}[self.ok]


def _env_hint(setting: str) -> str:
    return f"[daemon] {setting} in the config or $OCW_{setting.upper()}"


async def run_checks(
    config_path: Path | None, env: Mapping[str, str] | None = None
) -> list[CheckResult]:
    """Every check, in order; never raises for a failed check (only for a programming error)."""
    try:
        config = load_config(config_path, env)
    except DaemonError as exc:
        return [CheckResult("config", False, str(exc), "fix the config file")]
    results = [CheckResult("config", True, str(config_path or "defaults and $OCW_*"))]
    keypair: Keypair | None = None
    try:
        keypair = load_keypair(config, env)
        results.append(CheckResult("key", True, _key_detail(config, keypair, env)))
    except DaemonError as exc:
        fix = "chmod 600 the key file" if "accessible to group" in str(exc) else "see the message"
        results.append(CheckResult("key", False, str(exc), fix))

    chain: ChainClient | None = None
    client = ChainClient(
        BINDINGS, ClientConfig(config.node_url, connect_timeout=1.0, socket_timeout=10.0)
    )
    try:
        try:
            await client.connect()
            head = await client.head_number()
            chain = client
            results.append(
                CheckResult("node", True, f"{config.node_url}, block #{head}, metadata compatible")
            )
        except IncompatibleMetadata as exc:
            results.append(
                CheckResult(
                    "node",
                    False,
                    f"{config.node_url}: {exc}",
                    "run an ocw-daemon built for this runtime (or regenerate the bindings)",
                )
            )
        except ChainClientError as exc:
            results.append(
                CheckResult(
                    "node",
                    False,
                    f"{config.node_url} unreachable: {exc}",
                    f"start the node or fix {_env_hint('node_url')} (a local chain: devnode --dev)",
                )
            )
        if chain is not None and keypair is not None:
            try:
                who = rt_types.AccountId32(keypair.public_key)
                info = await chain.query(providers.storage.providers(who))
                results.append(await _funds(chain, config, keypair, info))
                results.append(_registration(config, keypair, info, config_path))
                results.append(_encryption_key(config, info, env, config_path))
            except ChainClientError as exc:
                chain = None  # the node went away mid-check
                results.append(CheckResult("funds", False, f"the node failed: {exc}", "retry"))
        else:
            needs = "the node" if chain is None else "the key"
            results.append(CheckResult("funds", None, f"not checked (needs {needs})"))
            results.append(CheckResult("registration", None, f"not checked (needs {needs})"))
            results.append(CheckResult("encryption key", None, f"not checked (needs {needs})"))
        results.append(await _endpoint(config, keypair))
        kubo = await _kubo(config)
        results.append(kubo)
        try:
            results.extend(await _models(config, chain, kubo.ok is True))
        except ChainClientError as exc:
            results.append(CheckResult("models", False, f"the node failed: {exc}", "retry"))
    finally:
        await client.close()
    results.append(await _redis(config))
    results.append(await asyncio.to_thread(_device, config))
    results.append(_disk(config))
    return results


def _key_detail(config: DaemonConfig, keypair: Keypair, env: Mapping[str, str] | None) -> str:
    environ = os.environ if env is None else env
    for name in ("OCW_ACCOUNT_SEED", "OCW_ACCOUNT_MNEMONIC"):
        if environ.get(name):
            return f"{keypair.ss58_address} from ${name}"
    path = config.keystore or environ.get("OCW_KEY_FILE")
    if path:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
        return f"{keypair.ss58_address} from {path} (mode {mode:04o})"
    return f"{keypair.ss58_address} from $OCW_KEY_URI"


async def _funds(
    chain: ChainClient, config: DaemonConfig, keypair: Keypair, info: Any
) -> CheckResult:
    who = rt_types.AccountId32(keypair.public_key)
    native = await chain.query(system.storage.account(who))
    staking = await chain.query(tokens.storage.accounts(who, STAKE_CURRENCY))
    free_native = int(native.data.free)
    free_stake, reserved = int(staking.free), int(staking.reserved)
    stake = config.provider.stake
    problems = []
    if free_native < FEE_RESERVE:
        problems.append(f"{free_native} native free, fees need at least {FEE_RESERVE}")
    if info is None and free_stake < stake:
        problems.append(
            f"{free_stake} free in currency {STAKE_CURRENCY}, the stake needs {stake} "
            f"(short by {stake - free_stake})"
        )
    if info is not None and reserved < int(info.stake):
        problems.append(f"only {reserved} reserved for a stake of {int(info.stake)}")
    address = keypair.ss58_address
    if problems:
        return CheckResult(
            "funds",
            False,
            "; ".join(problems),
            f"transfer the native token and currency {STAKE_CURRENCY} to {address}",
        )
    staked = f"stake {int(info.stake)} reserved" if info is not None else f"{free_stake} free"
    return CheckResult(
        "funds",
        True,
        f"{free_native} native free for fees; currency {STAKE_CURRENCY}: {staked} (stake {stake})",
    )


def _registration(
    config: DaemonConfig, keypair: Keypair, info: Any, config_path: Path | None
) -> CheckResult:
    register = f"ocw-daemon register --config {config_path or 'daemon.toml'}"
    if info is None:
        return CheckResult(
            "registration",
            False,
            f"{keypair.ss58_address} is not registered as a provider",
            f"run `{register}` (stakes {config.provider.stake})",
        )
    status = type(info.status).__name__
    if "Unbonding" in status:
        return CheckResult(
            "registration", False, "the provider is unbonding", "wait, withdraw, register again"
        )
    differences = []
    endpoint = bytes(info.endpoint).decode("utf-8", "replace")
    if endpoint != config.endpoint:
        differences.append(f"endpoint on-chain {endpoint!r}, configured {config.endpoint!r}")
    chain_models = {"0x" + bytes(m.value).hex() for m in info.models}
    wanted = {m.lower() if m.startswith("0x") else "0x" + m.lower() for m in config.provider.models}
    if chain_models != wanted:
        extra, missing = sorted(chain_models - wanted), sorted(wanted - chain_models)
        differences.append(
            f"models: on-chain only {extra or '-'}, configured only {missing or '-'}"
        )
    if int(info.capacity) != config.provider.capacity:
        differences.append(
            f"capacity on-chain {info.capacity}, configured {config.provider.capacity}"
        )
    if int(info.stake) != config.provider.stake:
        differences.append(f"stake on-chain {int(info.stake)}, configured {config.provider.stake}")
    if differences:
        return CheckResult(
            "registration",
            False,
            "; ".join(differences),
            f"run `{register}` to update endpoint, models and capacity (a stake change "
            "needs unregister and register)",
        )
    return CheckResult(
        "registration",
        True,
        f"active, stake {int(info.stake)}, {len(chain_models)} model(s), capacity {info.capacity}, "
        f"reputation {info.reputation}",
    )


def _encryption_key(
    config: DaemonConfig, info: Any, env: Mapping[str, str] | None, config_path: Path | None
) -> CheckResult:
    """The X25519 key published in `Providers` is the one this daemon opens sealed payloads
    with (`$OCW_ENCRYPTION_SECRET`, else the key file); read-only: a missing file is reported,
    never created."""
    name = "encryption key"
    if info is None:
        return CheckResult(name, None, "not checked (needs the registration)")
    register = f"run `ocw-daemon register --config {config_path or 'daemon.toml'}`"
    environ = os.environ if env is None else env
    secret = environ.get("OCW_ENCRYPTION_SECRET")
    path = config.encryption_key_path
    where = "$OCW_ENCRYPTION_SECRET" if secret else str(path)
    if not secret and not path.exists():
        return CheckResult(
            name, False, f"no X25519 key at {path}", f"{register} (creates it and publishes it)"
        )
    try:
        local = load_encryption_key(config, env).public
    except DaemonError as exc:
        return CheckResult(name, False, str(exc), "fix or chmod 600 the key file")
    published = None if info.encryption_key is None else bytes(info.encryption_key)
    if published is None:
        return CheckResult(
            name,
            False,
            "the provider published no encryption key: sealed requests cannot be sent to it",
            f"{register} (publishes the key from {where})",
        )
    if published != local:
        return CheckResult(
            name,
            False,
            f"on-chain 0x{published.hex()[:16]}… differs from the local key "
            f"0x{local.hex()[:16]}… ({where}): sealed inputs would not open",
            f"{register} to publish the local key, or point [daemon] encryption_keystore at "
            "the key that was published",
        )
    return CheckResult(name, True, f"published, matches {where} (0x{local.hex()[:16]}…)")


async def _endpoint(config: DaemonConfig, keypair: Keypair | None) -> CheckResult:
    url = f"{config.endpoint.rstrip('/')}/status"
    nonce = secrets.token_hex(16)
    fix = (
        "start `ocw-daemon run` with this config, and make the endpoint "
        f"({config.endpoint}) reach its http_host:http_port"
    )
    try:
        timeout = aiohttp.ClientTimeout(total=5.0)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, params={"nonce": nonce}) as resp,
        ):
            if resp.status != 200:
                return CheckResult("endpoint", False, f"{url}: HTTP {resp.status}", fix)
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return CheckResult("endpoint", False, f"{url}: {type(exc).__name__}: {exc}", fix)
    if keypair is None:
        return CheckResult("endpoint", None, f"{url} answers; signature not checked (no key)")
    try:
        document = verify_status(body, keypair.public_key, nonce)
    except StatusError as exc:
        return CheckResult(
            "endpoint", False, f"{url}: {exc}", "the daemon at the endpoint must use this key"
        )
    ready = "ready" if document.get("ready") else "NOT ready (see its /healthz)"
    return CheckResult(
        "endpoint",
        bool(document.get("ready")),
        f"{config.endpoint} serves a status signed by {keypair.ss58_address}, {ready}",
        "" if document.get("ready") else "see the daemon's log and /healthz",
    )


async def _kubo_post(config: DaemonConfig, command: str, limit_s: float, **params: str) -> Any:
    url = f"{config.ipfs_api_url.rstrip('/')}/api/v0/{command}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit_s)) as session,
        session.post(url, params=params) as resp,
    ):
        body = await resp.json(content_type=None)
        if resp.status != 200:
            raise ValueError(body.get("Message", body) if isinstance(body, dict) else body)
        return body


async def _kubo(config: DaemonConfig) -> CheckResult:
    try:
        version = await _kubo_post(config, "version", 3.0)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return CheckResult(
            "kubo",
            False,
            f"{config.ipfs_api_url} unreachable: {exc}",
            f"start Kubo (`ipfs daemon`) or fix {_env_hint('ipfs_api_url')}",
        )
    return CheckResult("kubo", True, f"{config.ipfs_api_url}, Kubo {version.get('Version', '?')}")


async def _models(
    config: DaemonConfig, chain: ChainClient | None, kubo_ok: bool
) -> list[CheckResult]:
    models = config.provider.models
    if not models:
        return [
            CheckResult(
                "models",
                False,
                "[provider] models is empty",
                "list the model ids this provider serves in [provider] models",
            )
        ]
    if chain is None or not kubo_ok:
        needs = "the node" if chain is None else "Kubo"
        return [CheckResult(f"model {m}", None, f"not checked (needs {needs})") for m in models]
    results = []
    for text in models:
        name = f"model {text}"
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
        except ValueError as exc:
            results.append(
                CheckResult(name, False, f"not a model id: {exc}", "fix [provider] models")
            )
            continue
        info = await chain.query(model_registry.storage.models(rt_types.H256(raw)))
        if info is None:
            results.append(
                CheckResult(name, False, "not registered on-chain", "fix [provider] models")
            )
            continue
        cid = bytes(info.cid).decode()
        try:
            stat_ = await _kubo_post(config, "block/stat", RESOLVE_TIMEOUT_S, arg=cid)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            results.append(
                CheckResult(
                    name,
                    False,
                    f"version {info.version}, CID {cid} does not resolve on Kubo: {exc or 'timeout'}",
                    "pin the model on this Kubo (`ipfs pin add CID`) or connect it to a peer that has it",
                )
            )
            continue
        results.append(
            CheckResult(
                name,
                True,
                f"{bytes(info.name).decode('utf-8', 'replace')!r} v{info.version}, CID {cid} "
                f"resolves (root block {stat_.get('Size', '?')} bytes)",
            )
        )
    return results


async def _redis(config: DaemonConfig) -> CheckResult:
    if not config.redis_url:
        return CheckResult("redis", True, "not configured: no shared tier-2 cache (redis_url)")
    from cache import make_client

    client: Any = make_client(config.redis_url, 2.0)
    try:
        if hasattr(client, "cluster_info"):
            info = await client.cluster_info()
            state = info.get("cluster_state") if isinstance(info, dict) else None
            if state not in ("ok", b"ok"):
                return CheckResult(
                    "redis", False, f"cluster state {state!r}", "repair the Redis Cluster"
                )
            detail = "cluster healthy"
        else:
            await client.ping()
            detail = "PONG"
    except Exception as exc:  # redis-py raises many unrelated types for an unreachable server
        return CheckResult(
            "redis",
            False,
            f"{_safe_url(config.redis_url)} unreachable: {type(exc).__name__}: {exc}",
            f"start Redis or fix {_env_hint('redis_url')}",
        )
    finally:
        close = getattr(client, "aclose", None) or client.close
        # closing a half-open client may fail; nothing is left to release then
        with contextlib.suppress(Exception):
            await close()
    return CheckResult("redis", True, f"{_safe_url(config.redis_url)}: {detail}")


def _safe_url(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _device(config: DaemonConfig) -> CheckResult:
    import inference_engine as ie

    try:
        placement = ie.select_placement(ie.EngineConfig(device=config.device))
    except ie.InferenceError as exc:
        return CheckResult(
            "device", False, str(exc), f"fix {_env_hint('device')} (auto, cpu or cuda:N)"
        )
    if placement.device.startswith("cuda"):
        import torch

        index = int(placement.device.split(":")[1]) if ":" in placement.device else 0
        free, total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        memory = f"{name}, {total / _GIB:.1f} GiB ({free / _GIB:.1f} GiB free)"
    else:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        memory = f"{os.cpu_count()} CPUs, {total / _GIB:.1f} GiB RAM"
    return CheckResult("device", True, f"{placement.device} ({memory}), dtype {placement.dtype}")


def _disk(config: DaemonConfig) -> CheckResult:
    directory = config.data_dir.resolve()
    probe = directory
    while not probe.exists():
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    models = directory / "models"
    used = 0
    if models.is_dir():
        used = sum(p.stat().st_size for p in models.rglob("*") if p.is_file())
    available = usage.free + used
    need = config.disk_capacity
    text = (
        f"{usage.free / _GIB:.1f} GiB free at {probe} (+{used / _GIB:.1f} GiB cached) for "
        f"disk_capacity {need / _GIB:.1f} GiB"
    )
    if available < need:
        return CheckResult(
            "disk", False, text, f"free space there or lower {_env_hint('disk_capacity')}"
        )
    return CheckResult("disk", True, text)
