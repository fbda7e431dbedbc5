"""The visible stages of a request, as typed records, and the timer that stamps them."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Stage", "StageCallback", "StageName", "StageTimer"]


class StageName(enum.Enum):
    """The stages of one request, in the order they happen.

    `VALIDATION_DRAWN` comes once: with a `validator` when the chain sampled the result for
    validation, without one when it did not. `OUTPUT_REQUESTED` and `VALIDATED` only come
    when a validator was drawn; `EXPIRED` and `REJECTED` end a failed request instead of `PAID`.
    """

    PLACED = "placed"
    ASSIGNED = "assigned"
    RESULT_SUBMITTED = "result submitted"
    VALIDATION_DRAWN = "validation drawn"
    OUTPUT_REQUESTED = "output requested"
    VALIDATED = "validated"
    PAID = "paid"
    OUTPUT_VERIFIED = "output verified"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage reached: where (block), how long it took, and what it says."""

    name: StageName
    request_id: int
    #: The block whose events showed the stage (None for OUTPUT_VERIFIED, off-chain)
    block_number: int | None
    #: Seconds since the previous stage (since the call began, for the first one)
    elapsed_s: float
    #: Seconds since the call began
    total_s: float
    #: The executor (SS58) for ASSIGNED, else None
    executor: str | None = None
    #: The drawn validator (SS58) for VALIDATION_DRAWN and VALIDATED, else None
    validator: str | None = None
    #: A short human-readable summary ("block 12: executor 5FHne…")
    detail: str = ""

    def describe(self) -> str:
        """`paid (block 14, +0.3 s)`: a line for a terminal or a log."""
        where = f"block {self.block_number}, " if self.block_number is not None else ""
        text = f"{self.name.value} ({where}+{self.elapsed_s:.1f} s)"
        return f"{text}: {self.detail}" if self.detail else text


#: Called with each stage as it happens; it must not block (it runs on the event loop)
StageCallback = Callable[[Stage], None]


class StageTimer:
    """Stamps stages with their durations and hands them to an optional callback."""

    def __init__(self, callback: StageCallback | None, started: float | None = None) -> None:
        self.callback = callback
        self.started = time.monotonic() if started is None else started
        self._last = self.started
        self.stages: list[Stage] = []

    def reached(
        self,
        name: StageName,
        request_id: int,
        block_number: int | None,
        *,
        executor: str | None = None,
        validator: str | None = None,
        detail: str = "",
    ) -> Stage:
        now = time.monotonic()
        stage = Stage(
            name,
            request_id,
            block_number,
            now - self._last,
            now - self.started,
            executor,
            validator,
            detail,
        )
        self._last = now
        self.stages.append(stage)
        if self.callback is not None:
            self.callback(stage)
        return stage
