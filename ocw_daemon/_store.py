"""The durable local record: the last processed block and every job's state (SQLite, WAL).

Every method runs on one worker thread that owns the connection, so the event loop never
waits on the disk. A block's new jobs, state changes and its number are written in one
transaction (`commit_block`), so a crash leaves either all of a block's effects or none.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lifecycle import AsyncResource

from ._errors import StoreError
from ._types import (
    AccountId,
    ChainRequestId,
    ExecJob,
    JobState,
    ValidationJob,
    ValidationState,
)

__all__ = ["BlockChanges", "JobStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    request_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    block INTEGER NOT NULL,
    extrinsic_index INTEGER,
    deadline INTEGER NOT NULL,
    requester BLOB NOT NULL,
    price INTEGER NOT NULL,
    model_cid TEXT NOT NULL,
    max_tokens INTEGER NOT NULL,
    input_inline BLOB,
    input_cid TEXT,
    output BLOB,
    output_hash BLOB,
    output_cid TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    submits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS validations (
    request_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    deadline INTEGER NOT NULL,
    verdict INTEGER,
    error TEXT
);
"""

_JOB_COLUMNS = (
    "request_id, state, block, extrinsic_index, deadline, requester, price, model_cid, "
    "max_tokens, input_inline, input_cid, output, output_hash, output_cid, prompt_tokens, "
    "completion_tokens, attempts, error"
)


#: A terminal state (from the chain) always applies; others never overwrite a terminal one.
_UPDATE_STATE = (
    "UPDATE jobs SET state=?, error=COALESCE(?, error) WHERE request_id=? "
    "AND (? OR state NOT IN ('completed', 'expired', 'rejected'))"
)


@dataclass
class BlockChanges:
    """Everything one block does to the local record."""

    number: int
    new_jobs: list[ExecJob] = field(default_factory=list)
    new_validations: list[ValidationJob] = field(default_factory=list)
    job_states: dict[ChainRequestId, JobState] = field(default_factory=dict)
    validation_states: dict[ChainRequestId, ValidationState] = field(default_factory=dict)


def _job(row: tuple[Any, ...]) -> ExecJob:
    return ExecJob(
        ChainRequestId(row[0]),
        JobState(row[1]),
        row[2],
        row[3],
        row[4],
        AccountId(bytes(row[5])),
        int(row[6]),
        row[7],
        row[8],
        None if row[9] is None else bytes(row[9]),
        row[10],
        None if row[11] is None else bytes(row[11]),
        None if row[12] is None else bytes(row[12]),
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
    )


def _validation(row: tuple[Any, ...]) -> ValidationJob:
    return ValidationJob(
        ChainRequestId(row[0]),
        ValidationState(row[1]),
        row[2],
        None if row[3] is None else bool(row[3]),
        row[4],
    )


class JobStore(AsyncResource):
    """`async with JobStore(path) as store:`; `close()` is idempotent."""

    #: what using or reopening a closed store raises
    closed_error = StoreError

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ocw-store")
        self._conn: sqlite3.Connection | None = None

    async def _aopen(self) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            return conn

        self._conn = await self._run(connect, opening=True)

    async def _aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=False)

    async def _run(self, func: Callable[[], T], *, opening: bool = False) -> T:
        if self.closed or (self._conn is None and not opening):
            raise StoreError("the job store is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, func)
        except sqlite3.Error as exc:
            raise StoreError(f"job store {self.path}: {exc}") from exc

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the job store is closed")
        return self._conn

    # -- blocks ------------------------------------------------------------------------------

    async def last_block(self) -> int | None:
        def read() -> int | None:
            row = self._c().execute("SELECT value FROM meta WHERE key='last_block'").fetchone()
            return None if row is None else int(row[0])

        return await self._run(read)

    async def commit_block(self, changes: BlockChanges) -> None:
        """A block's effects and its number, atomically; replaying a block changes nothing."""

        def write() -> None:
            conn = self._c()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for job in changes.new_jobs:
                    conn.execute(
                        f"INSERT OR IGNORE INTO jobs ({_JOB_COLUMNS}) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            job.request_id, job.state.value, job.block, job.extrinsic_index,
                            job.deadline, job.requester, str(job.price), job.model_cid,
                            job.max_tokens, job.input_inline, job.input_cid, None, None, None,
                            0, 0, 0, job.error,
                        ),
                    )  # fmt: skip
                for v in changes.new_validations:
                    conn.execute(
                        "INSERT OR IGNORE INTO validations (request_id, state, deadline) "
                        "VALUES (?,?,?)",
                        (v.request_id, v.state.value, v.deadline),
                    )
                for rid, state in changes.job_states.items():
                    conn.execute(_UPDATE_STATE, (state.value, None, rid, int(state.terminal)))
                for rid, vstate in changes.validation_states.items():
                    conn.execute(
                        "UPDATE validations SET state=? WHERE request_id=?", (vstate.value, rid)
                    )
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('last_block', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (changes.number,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._run(write)

    # -- executor jobs -----------------------------------------------------------------------

    async def job(self, request_id: int) -> ExecJob | None:
        def read() -> ExecJob | None:
            row = (
                self._c()
                .execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE request_id=?", (request_id,))
                .fetchone()
            )
            return None if row is None else _job(row)

        return await self._run(read)

    async def jobs(self, states: Iterable[JobState] | None = None) -> list[ExecJob]:
        wanted = None if states is None else [s.value for s in states]

        def read() -> list[ExecJob]:
            sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
            params: list[str] = []
            if wanted is not None:
                sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
                params = wanted
            return [_job(r) for r in self._c().execute(sql + " ORDER BY request_id", params)]

        return await self._run(read)

    async def set_job_state(
        self, request_id: int, state: JobState, *, error: str | None = None
    ) -> None:
        def write() -> None:
            self._c().execute(_UPDATE_STATE, (state.value, error, request_id, int(state.terminal)))

        await self._run(write)

    async def record_output(
        self,
        request_id: int,
        output: bytes,
        output_hash: bytes,
        output_cid: str | None,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        """State `submitting` with the output: written before the result is submitted."""

        def write() -> None:
            self._c().execute(
                "UPDATE jobs SET state=?, output=?, output_hash=?, output_cid=?, prompt_tokens=?, "
                "completion_tokens=?, submits=submits+1 WHERE request_id=? AND state NOT IN "
                "('completed', 'expired', 'rejected')",
                (
                    JobState.SUBMITTING.value, output, output_hash, output_cid, prompt_tokens,
                    completion_tokens, request_id,
                ),
            )  # fmt: skip

        await self._run(write)

    async def count_attempt(self, request_id: int, error: str) -> int:
        def write() -> int:
            conn = self._c()
            conn.execute(
                "UPDATE jobs SET attempts=attempts+1, error=? WHERE request_id=?",
                (error, request_id),
            )
            row = conn.execute(
                "SELECT attempts FROM jobs WHERE request_id=?", (request_id,)
            ).fetchone()
            return 0 if row is None else int(row[0])

        return await self._run(write)

    # -- validations -------------------------------------------------------------------------

    async def validations(
        self, states: Iterable[ValidationState] | None = None
    ) -> list[ValidationJob]:
        wanted = None if states is None else [s.value for s in states]

        def read() -> list[ValidationJob]:
            sql = "SELECT request_id, state, deadline, verdict, error FROM validations"
            params: list[str] = []
            if wanted is not None:
                sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
                params = wanted
            return [_validation(r) for r in self._c().execute(sql + " ORDER BY request_id", params)]

        return await self._run(read)

    async def validation(self, request_id: int) -> ValidationJob | None:
        def read() -> ValidationJob | None:
            row = (
                self._c()
                .execute(
                    "SELECT request_id, state, deadline, verdict, error FROM validations "
                    "WHERE request_id=?",
                    (request_id,),
                )
                .fetchone()
            )
            return None if row is None else _validation(row)

        return await self._run(read)

    async def set_validation(
        self,
        request_id: int,
        state: ValidationState,
        *,
        verdict: bool | None = None,
        error: str | None = None,
    ) -> None:
        def write() -> None:
            self._c().execute(
                "UPDATE validations SET state=?, verdict=COALESCE(?, verdict), "
                "error=COALESCE(?, error) WHERE request_id=?",
                (state.value, None if verdict is None else int(verdict), error, request_id),
            )

        await self._run(write)

    # -- observation -------------------------------------------------------------------------

    async def counts(self) -> dict[tuple[str, str], int]:
        """(role, state) -> number of jobs, for the metrics."""

        def read() -> dict[tuple[str, str], int]:
            out: dict[tuple[str, str], int] = {}
            conn = self._c()
            for state, n in conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
                out[("executor", state)] = n
            for state, n in conn.execute("SELECT state, COUNT(*) FROM validations GROUP BY state"):
                out[("validator", state)] = n
            return out

        return await self._run(read)

    async def submits(self, request_id: int) -> int:
        """How many times a result was recorded for submission (crash tests read this)."""

        def read() -> int:
            row = (
                self._c()
                .execute("SELECT submits FROM jobs WHERE request_id=?", (request_id,))
                .fetchone()
            )
            return 0 if row is None else int(row[0])

        return await self._run(read)
