"""Command-line entry point: `ocw-daemon run --config daemon.toml`, `ocw-daemon register`,
`ocw-daemon check` (is everything a provider needs in place? read-only)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
import time
from pathlib import Path

from ._check import CheckResult, run_checks
from ._config import load_config, load_keypair
from ._daemon import Daemon
from ._errors import DaemonError
from ._register import register_provider


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocw-daemon",
        description=__import__("ocw_daemon").__doc__,
        epilog="The account key comes from the keystore file named in the config, or from "
        "OCW_ACCOUNT_SEED / OCW_ACCOUNT_MNEMONIC; never from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("run", "follow the chain and serve jobs until SIGTERM"),
        ("register", "register (or update) this account as a provider, then exit"),
        ("check", "check node, key, funds, registration, X25519 key, endpoint, Kubo, Redis..."),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--config", type=Path, default=None, help="TOML file ([daemon], [provider])"
        )
        cmd.add_argument("--log-level", default="INFO" if name != "check" else "ERROR")
        if name == "check":
            cmd.add_argument("--json", action="store_true", help="the results as JSON")
            cmd.add_argument(
                "--wait",
                type=float,
                default=0.0,
                metavar="SECONDS",
                help="repeat the checks until all pass or SECONDS have passed",
            )
    return parser


def _check(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + max(0.0, args.wait)
    while True:
        results = asyncio.run(run_checks(args.config))
        passed = all(r.ok is True for r in results)
        if passed or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    else:
        for result in results:
            _print_result(result)
    return 0 if passed else 1


def _print_result(result: CheckResult) -> None:
    line = f"{result.mark} {result.name:<14} {result.detail}"
    if result.fix and result.ok is not True:
        line += f"\n  {'':<14} fix: {result.fix}"
    print(line, flush=True)


async def _run(daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop)
    async with daemon:
        if not daemon.stopping:  # stopped while still waiting for the node: nothing was served
            print(f"ocw-daemon serving at {daemon.http.url}", flush=True)
        await daemon.wait_stopped()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "check":
        return _check(args)
    try:
        config = load_config(args.config)
        keypair = load_keypair(config)
        if args.command == "register":
            receipt = asyncio.run(register_provider(config, keypair))
            print(f"registered {keypair.ss58_address} in block {receipt.block_number}")
            return 0
        asyncio.run(_run(Daemon(config, keypair)))
    except DaemonError as exc:
        print(f"ocw-daemon: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
