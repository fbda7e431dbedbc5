"""The suite's watchdog (tests/conftest.py): a hung test ends the run, named, with stacks, and
the processes it started are killed, instead of the run using up CI's budget in silence."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_hung_test_is_named_its_stacks_dumped_and_its_children_killed(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    (tmp_path / "test_hangs.py").write_text(
        textwrap.dedent(f"""
            import subprocess, threading, time

            def test_hangs_in_a_thread_join():
                child = subprocess.Popen(["sleep", "300"])
                open({str(marker)!r}, "w").write(str(child.pid))
                sleeper = threading.Thread(target=time.sleep, args=(300,), daemon=True)
                sleeper.start()
                sleeper.join()  # never returns in time
        """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_hangs.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TEST_WATCHDOG_S": "2"},
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "watchdog: test_hangs.py::test_hangs_in_a_thread_join took over 2 s" in done.stderr
    assert "in test_hangs_in_a_thread_join" in done.stderr  # the hung frame is in the dump
    pid = int(marker.read_text())
    assert "killing" in done.stderr and str(pid) in done.stderr
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
