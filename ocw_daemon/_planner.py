"""What one finalized block means to this daemon, decided without I/O.

`plan(block, me, known)` reads a block's events and returns the changes to the local record
(committed in one transaction with the block's number) and the actions the roles carry out
afterwards. It queries nothing, spawns nothing and keeps no state, so every event the daemon
reacts to is unit-tested without a chain (tests/ocw_daemon/test_ocw_planner.py).

Events are matched by their generated classes (`runtime_types.generated.devnode`), never by
name. A request is this daemon's job from its `InferenceRequested` naming this account, a
validation from its `ValidationRequested` naming it: both count from the event on, later in
the same block too. Duplicate events act once; the outcome of a request does not depend on the
order of its events within a block (a terminal state wins over `submitted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from runtime_types import Block
from runtime_types.generated.devnode import channels, inference, model_registry, types

from ._types import AccountId, ChainRequestId, ExecJob, JobState, ValidationJob, ValidationState

__all__ = [
    "Action",
    "AdmitJob",
    "CountOutcome",
    "Earned",
    "Known",
    "ObserveDemand",
    "Plan",
    "PrefetchVersion",
    "ProvideOutput",
    "RecordChanges",
    "Resume",
    "RetireModel",
    "Validate",
    "ValidateDirect",
    "ValidateProvided",
    "plan",
    "resume_job",
    "resume_validation",
]

#: The job state each terminal chain event leaves an executor job in
OUTCOMES: Mapping[type, JobState] = {
    inference.events.InferencePaid: JobState.COMPLETED,
    inference.events.RequestExpired: JobState.EXPIRED,
    inference.events.RequestDeclined: JobState.FAILED,
    inference.events.ValidationFailed: JobState.REJECTED,
    inference.events.OutputTimedOut: JobState.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Known:
    """The requests this daemon already holds as executor (`jobs`) and as validator.

    The sets are read, never copied or changed (the daemon passes its own).
    """

    jobs: AbstractSet[int] = frozenset()
    validations: AbstractSet[int] = frozenset()


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdmitJob:
    """A request assigned to this executor: read it, record the job (with the block), queue it."""

    request_id: ChainRequestId
    extrinsic_index: int | None
    requester: AccountId
    deadline: int


@dataclass(frozen=True, slots=True)
class ObserveDemand:
    """Another executor's request: demand for its model (preloading)."""

    model_id: bytes


@dataclass(frozen=True, slots=True)
class Validate:
    """A validation drawn for this account: fetch the output from the executor and judge it."""

    request_id: ChainRequestId


@dataclass(frozen=True, slots=True)
class ValidateProvided:
    """The output of a validation put on-chain (`provide_output` at `extrinsic_index`)."""

    request_id: ChainRequestId
    extrinsic_index: int | None


@dataclass(frozen=True, slots=True)
class ProvideOutput:
    """The validator of one of this executor's jobs asked for its output on-chain."""

    request_id: ChainRequestId


@dataclass(frozen=True, slots=True)
class CountOutcome:
    """A job's chain outcome, for the metrics."""

    request_id: ChainRequestId
    outcome: JobState


@dataclass(frozen=True, slots=True)
class Earned:
    """This executor was paid `amount` for a job."""

    request_id: ChainRequestId
    amount: int


@dataclass(frozen=True, slots=True)
class PrefetchVersion:
    """A new version of a model: fetch it ahead of its first request (if served here)."""

    model_id: bytes
    version: int
    cid: str


@dataclass(frozen=True, slots=True)
class RetireModel:
    """A deprecated model: every known version of it leaves tier 1 and its pin."""

    model_id: bytes


@dataclass(frozen=True, slots=True)
class ValidateDirect:
    """A settled direct result drawn for this account to validate."""

    direct_id: int


Action = (
    AdmitJob | ObserveDemand | Validate | ValidateProvided | ProvideOutput | CountOutcome
    | Earned | PrefetchVersion | RetireModel | ValidateDirect
)  # fmt: skip


# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordChanges:
    """What a block does to the local record, besides the jobs its `AdmitJob`s add."""

    number: int
    new_validations: tuple[ValidationJob, ...] = ()
    job_states: Mapping[ChainRequestId, JobState] = field(default_factory=dict)
    validation_states: Mapping[ChainRequestId, ValidationState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    changes: RecordChanges
    #: In event order
    actions: tuple[Action, ...]

    @property
    def admitted(self) -> tuple[AdmitJob, ...]:
        return tuple(a for a in self.actions if isinstance(a, AdmitJob))

    @property
    def known(self) -> Known:
        """The jobs and validations known once this plan is committed (without the earlier)."""
        return Known(
            frozenset(a.request_id for a in self.admitted),
            frozenset(v.request_id for v in self.changes.new_validations),
        )


def plan(block: Block, me: AccountId, known: Known) -> Plan:
    """The record changes and actions of `block` for the account `me` (see the module doc)."""
    jobs_here: set[int] = set()  # admitted or drawn in this block
    validations_here: set[int] = set()
    new_validations: list[ValidationJob] = []
    job_states: dict[ChainRequestId, JobState] = {}
    validation_states: dict[ChainRequestId, ValidationState] = {}
    actions: list[Action] = []
    ended: set[int] = set()

    def my_job(rid: int) -> bool:
        return rid in known.jobs or rid in jobs_here

    def my_validation(rid: int) -> bool:
        return rid in known.validations or rid in validations_here

    def act(action: Action) -> None:
        if action not in actions or isinstance(action, ObserveDemand):  # duplicates act once
            actions.append(action)

    for record in block.events:
        event = record.event
        match event:
            case inference.events.InferenceRequested():
                rid = ChainRequestId(int(event.request_id))
                if bytes(event.executor.value) != me:
                    act(ObserveDemand(bytes(event.model_id.value)))
                elif rid not in known.jobs and rid not in jobs_here:
                    jobs_here.add(rid)
                    requester = AccountId(bytes(event.requester.value))
                    act(AdmitJob(rid, record.extrinsic_index, requester, int(event.deadline)))
            case inference.events.ValidationRequested():
                rid = ChainRequestId(int(event.request_id))
                mine = bytes(event.validator.value) == me
                if mine and rid not in known.validations and rid not in validations_here:
                    validations_here.add(rid)
                    pending = ValidationJob(rid, ValidationState.PENDING, int(event.deadline))
                    new_validations.append(pending)
                    act(Validate(rid))
            case inference.events.OutputRequested():
                rid = ChainRequestId(int(event.request_id))
                if my_job(rid):
                    act(ProvideOutput(rid))
            case inference.events.OutputProvided():
                rid = ChainRequestId(int(event.request_id))
                if my_validation(rid):
                    act(ValidateProvided(rid, record.extrinsic_index))
            case inference.events.ResultSubmitted():
                rid = ChainRequestId(int(event.request_id))
                if my_job(rid):
                    job_states.setdefault(rid, JobState.SUBMITTED)
            case (
                inference.events.InferencePaid() | inference.events.RequestExpired()
                | inference.events.RequestDeclined() | inference.events.ValidationFailed()
                | inference.events.OutputTimedOut()
            ):  # fmt: skip
                rid = ChainRequestId(int(event.request_id))
                if rid in ended:
                    continue  # a duplicate
                ended.add(rid)
                outcome = OUTCOMES[type(event)]
                if my_job(rid):
                    job_states[rid] = outcome
                    act(CountOutcome(rid, outcome))
                    if (
                        isinstance(event, inference.events.InferencePaid)
                        and bytes(event.executor.value) == me
                    ):
                        act(Earned(rid, int(event.executor_amount)))
                if my_validation(rid):
                    validation_states[rid] = ValidationState.DONE
            case model_registry.events.ModelUpdated():
                update = PrefetchVersion(
                    bytes(event.model_id.value), int(event.version), bytes(event.cid).decode()
                )
                act(update)
            case model_registry.events.ModelDeprecated():
                act(RetireModel(bytes(event.model_id.value)))
            case channels.events.DirectValidationRequested():
                if bytes(event.validator.value) == me:
                    act(ValidateDirect(int(event.direct_id)))
            case _:
                pass
    changes = RecordChanges(block.number, tuple(new_validations), job_states, validation_states)
    return Plan(changes, tuple(actions))


# -- restart ----------------------------------------------------------------------------------

#: The chain states that end a request, and the job state each leaves
_ENDED: Mapping[type, JobState] = {
    types.RequestStateCompleted: JobState.COMPLETED,
    types.RequestStateExpired: JobState.EXPIRED,
    types.RequestStateRejected: JobState.REJECTED,
    types.RequestStateDeclined: JobState.FAILED,
}


@dataclass(frozen=True, slots=True)
class Resume:
    """What a restart does with one unfinished job (`resume_job`)."""

    #: The state to record (None: as recorded)
    state: JobState | None = None
    error: str | None = None
    #: Back into the queue: run it, or submit the result it already has
    queue: bool = False
    #: Its validator asked for the output on-chain: provide it
    provide: bool = False


def resume_job(job: ExecJob, request: types.InferenceRequest | None) -> Resume:
    """Bring a recorded, non-terminal job in line with the chain's `request` (None: gone)."""
    if request is None:
        return Resume(JobState.FAILED, error="unknown")
    state = request.state
    ended = _ENDED.get(type(state))
    if ended is not None:
        return Resume(ended)
    if isinstance(state, types.RequestStateAwaitingValidation):
        challenged = state.output_deadline is not None and job.output is not None
        return Resume(JobState.SUBMITTED, provide=challenged)
    if job.state in (JobState.QUEUED, JobState.SUBMITTING, JobState.SUBMITTED):
        # still assigned: a `submitted` job's result was not included, so submit it again
        again = JobState.SUBMITTING if job.state is JobState.SUBMITTED else None
        return Resume(again, queue=True)
    return Resume()


def resume_validation(validation: ValidationJob) -> bool:
    """Whether a restart runs a recorded validation again (it had not submitted its verdict)."""
    return validation.state in (ValidationState.PENDING, ValidationState.SUBMITTING)
