"""Suite-wide guard: a test that hangs (its fixtures included) ends the run with every thread's
stack on stderr, instead of using up CI's whole budget in silence.

pytest-timeout's marks stop a slow test body gracefully; this watchdog catches what they cannot:
a hang in fixture setup or teardown, or in code that never returns to the interpreter. It names
the test, dumps the stacks, kills the servers the suite started (so none keeps CI's output pipe
open) and exits.

It also holds the one Kubo the whole suite shares (`kubo`, session scope): starting a Kubo takes
seconds, and most tests only add and fetch content by CID, which a shared repository does not
disturb. A test that needs a Kubo of its own (two peers, a Kubo it stops or faults, a blockstore
it scans whole) starts one with `devstack.LocalKubo.start` and stops it itself. And the dev
keypairs the chain tests sign with (`alice`, `bob`).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from substrateinterface import Keypair

from tests.chains import CHAINS, ChainKind

if TYPE_CHECKING:
    from devstack import LocalKubo

#: Seconds one test item may take, its fixtures' setup and teardown included.
WATCHDOG_S = float(os.environ.get("TEST_WATCHDOG_S", "600"))


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _expire(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # the stacks go to the real stderr, not to the test's capture
        capture.suspend_global_capture(in_=True)
    nodeid = item.nodeid
    sys.stderr.write(f"\n\nwatchdog: {nodeid} took over {WATCHDOG_S:.0f} s; stacks follow\n")
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    for pid in _descendants(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            sys.stderr.write(f"watchdog: killing {pid}: {command.decode(errors='replace')[:300]}\n")
        except OSError:
            pass
        with contextlib.suppress(OSError):  # already gone
            os.kill(pid, signal.SIGKILL)
    sys.stderr.flush()
    os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timer = threading.Timer(WATCHDOG_S, _expire, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture(scope="module", params=CHAINS)
def chain_kind(request: pytest.FixtureRequest) -> ChainKind:
    """Which chain a test runs on, devnode or the Rust runtime (`runtime` marker): see
    tests/chains.py."""
    kind: ChainKind = request.param
    return kind


@pytest.fixture(scope="session")
def kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKubo]:
    """The suite's shared Kubo (offline, random loopback ports); see the module docstring."""
    from devstack import LocalKubo  # imported here: most test runs never start a Kubo

    daemon = LocalKubo.start(tmp_path_factory.mktemp("kubo") / "repo")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def alice() -> Keypair:
    return Keypair.create_from_uri("//Alice")


@pytest.fixture(scope="session")
def bob() -> Keypair:
    return Keypair.create_from_uri("//Bob")
