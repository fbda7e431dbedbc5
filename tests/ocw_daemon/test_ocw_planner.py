"""The planner without a chain: every event the daemon reacts to, as typed generated events.

Each test builds a block from the generated event classes (as the client decodes them) and
checks the record changes and actions `plan` returns; nothing here reads storage or spawns.
"""

from __future__ import annotations

import itertools
from typing import Any

from ocw_daemon._planner import (
    AdmitJob,
    CountOutcome,
    Earned,
    Known,
    ObserveDemand,
    PrefetchVersion,
    ProvideOutput,
    RecordChanges,
    Resume,
    RetireModel,
    Validate,
    ValidateDirect,
    ValidateProvided,
    plan,
    resume_job,
    resume_validation,
)
from ocw_daemon._types import (
    AccountId,
    ChainRequestId,
    ExecJob,
    JobState,
    ValidationJob,
    ValidationState,
)
from runtime_types import Block, BlockHash, EventRecord
from runtime_types.generated.devnode import channels, inference, model_registry, types

ME = AccountId(b"\x01" * 32)
OTHER = AccountId(b"\x02" * 32)
REQUESTER = AccountId(b"\x03" * 32)
MODEL = b"\x0e" * 32
R = ChainRequestId


def acc(who: bytes) -> types.AccountId32:
    return types.AccountId32(who)


def block(*events: Any, number: int = 7) -> Block:
    """A block whose events are `events` in order, the i-th from extrinsic i."""
    records = tuple(
        EventRecord(type(e).__module__, type(e).__variant_name__, e, i)
        for i, e in enumerate(events)
    )
    return Block(number, BlockHash("0x00"), BlockHash("0x00"), (), records)


def requested(rid: int, executor: bytes = ME, model: bytes = MODEL) -> Any:
    return inference.events.InferenceRequested(
        rid, acc(REQUESTER), types.H256(model), acc(executor), 1000, 40
    )


def drawn(rid: int, validator: bytes = ME) -> Any:
    return inference.events.ValidationRequested(rid, acc(validator), 55)


def paid(rid: int, executor: bytes = ME) -> Any:
    return inference.events.InferencePaid(rid, 900, acc(OTHER), 225, acc(executor), 675, 100)


def submitted(rid: int) -> Any:
    return inference.events.ResultSubmitted(rid, types.H256(b"\x05" * 32), 3, 4)


def test_an_empty_block_changes_only_the_block_number() -> None:
    result = plan(block(number=12), ME, Known())
    assert result.changes == RecordChanges(12)
    assert result.actions == ()


def test_a_request_for_me_is_admitted_with_its_phase_requester_and_deadline() -> None:
    result = plan(block(submitted(99), requested(4)), ME, Known())
    assert result.actions == (AdmitJob(R(4), 1, REQUESTER, 40),)
    assert result.admitted == result.actions
    assert result.known == Known(frozenset({4}))
    assert result.changes == RecordChanges(7)  # ResultSubmitted of a job not mine: nothing


def test_a_request_for_another_executor_is_demand_for_its_model_only() -> None:
    other_model = b"\x0f" * 32
    result = plan(
        block(requested(4, OTHER), requested(5, OTHER), requested(6, OTHER, other_model)),
        ME,
        Known(),
    )
    # demand counts every request, including two of the same model
    assert result.actions == (
        ObserveDemand(MODEL),
        ObserveDemand(MODEL),
        ObserveDemand(other_model),
    )
    assert result.changes == RecordChanges(7)


def test_a_validation_drawn_for_me_is_recorded_pending_and_started() -> None:
    result = plan(block(drawn(4)), ME, Known())
    assert result.changes.new_validations == (ValidationJob(R(4), ValidationState.PENDING, 55),)
    assert result.actions == (Validate(R(4)),)
    assert result.known == Known(validations=frozenset({4}))


def test_a_validation_drawn_for_another_account_is_ignored() -> None:
    result = plan(block(drawn(4, OTHER)), ME, Known(jobs=frozenset({4})))
    assert result.changes == RecordChanges(7) and result.actions == ()


def test_output_requested_for_my_job_provides_it_and_ignores_others() -> None:
    events = (inference.events.OutputRequested(4, 60), inference.events.OutputRequested(5, 60))
    result = plan(block(*events), ME, Known(jobs=frozenset({4})))
    assert result.actions == (ProvideOutput(R(4)),)


def test_output_provided_for_my_validation_validates_from_its_extrinsic() -> None:
    events = (inference.events.OutputProvided(9), inference.events.OutputProvided(4))
    result = plan(block(*events), ME, Known(validations=frozenset({4})))
    assert result.actions == (ValidateProvided(R(4), 1),)


def test_result_submitted_marks_my_job_submitted() -> None:
    result = plan(block(submitted(4), submitted(5)), ME, Known(jobs=frozenset({4})))
    assert result.changes.job_states == {4: JobState.SUBMITTED}
    assert result.actions == ()


def test_each_terminal_event_sets_its_outcome_and_counts_it() -> None:
    cases = [
        (paid(1), JobState.COMPLETED),
        (inference.events.RequestExpired(2, 1000), JobState.EXPIRED),
        (inference.events.RequestDeclined(3, 1000), JobState.FAILED),
        (inference.events.ValidationFailed(4, acc(OTHER), 500), JobState.REJECTED),
        (inference.events.OutputTimedOut(5, 500), JobState.REJECTED),
    ]
    result = plan(block(*(e for e, _ in cases)), ME, Known(jobs=frozenset(range(1, 6))))
    assert result.changes.job_states == {i + 1: state for i, (_, state) in enumerate(cases)}
    assert result.actions == (
        CountOutcome(R(1), JobState.COMPLETED),
        Earned(R(1), 675),
        CountOutcome(R(2), JobState.EXPIRED),
        CountOutcome(R(3), JobState.FAILED),
        CountOutcome(R(4), JobState.REJECTED),
        CountOutcome(R(5), JobState.REJECTED),
    )


def test_terminal_events_of_others_jobs_change_nothing() -> None:
    events = (paid(1, OTHER), inference.events.RequestExpired(2, 1000))
    result = plan(block(*events), ME, Known(jobs=frozenset({3})))
    assert result.changes == RecordChanges(7) and result.actions == ()


def test_a_terminal_event_ends_my_validation_of_that_request() -> None:
    result = plan(block(paid(4, OTHER)), ME, Known(validations=frozenset({4})))
    assert result.changes.validation_states == {4: ValidationState.DONE}
    assert result.changes.job_states == {}
    assert result.actions == ()  # not my job: no outcome, no earnings


def test_paid_to_another_executor_for_a_job_recorded_here_earns_nothing() -> None:
    result = plan(block(paid(4, OTHER)), ME, Known(jobs=frozenset({4})))
    assert result.actions == (CountOutcome(R(4), JobState.COMPLETED),)


def test_expiry_of_a_job_admitted_in_the_same_block() -> None:
    result = plan(block(requested(4), inference.events.RequestExpired(4, 1000)), ME, Known())
    assert result.actions == (
        AdmitJob(R(4), 0, REQUESTER, 40),
        CountOutcome(R(4), JobState.EXPIRED),
    )
    assert result.changes.job_states == {4: JobState.EXPIRED}


def test_the_outcome_does_not_depend_on_the_order_of_events() -> None:
    events = [submitted(4), paid(4), drawn(4), inference.events.OutputProvided(4)]
    outcomes = set()
    for order in itertools.permutations(events):
        result = plan(block(*order), ME, Known(jobs=frozenset({4})))
        outcomes.add(result.changes.job_states[R(4)])
    assert outcomes == {JobState.COMPLETED}  # terminal wins over submitted, either way


def test_duplicate_events_act_once() -> None:
    update = model_registry.events.ModelUpdated(types.H256(MODEL), 2, b"bafy-new")
    direct = channels.events.DirectValidationRequested(8, acc(ME), 90)
    events = [requested(4), requested(4), drawn(5), drawn(5), paid(4), paid(4), update, update]
    result = plan(block(*events, direct, direct), ME, Known())
    assert result.actions == (
        AdmitJob(R(4), 0, REQUESTER, 40),
        Validate(R(5)),
        CountOutcome(R(4), JobState.COMPLETED),
        Earned(R(4), 675),
        PrefetchVersion(MODEL, 2, "bafy-new"),
        ValidateDirect(8),
    )
    assert result.changes.new_validations == (ValidationJob(R(5), ValidationState.PENDING, 55),)


def test_a_replayed_block_admits_nothing_already_known() -> None:
    replay = block(requested(4), drawn(5))
    first = plan(replay, ME, Known())
    again = plan(replay, ME, first.known)
    assert again.actions == () and again.changes.new_validations == ()


def test_model_updated_prefetches_and_model_deprecated_retires() -> None:
    events = (
        model_registry.events.ModelUpdated(types.H256(MODEL), 3, b"bafy-v3"),
        model_registry.events.ModelDeprecated(types.H256(MODEL)),
    )
    result = plan(block(*events), ME, Known())
    assert result.actions == (PrefetchVersion(MODEL, 3, "bafy-v3"), RetireModel(MODEL))
    assert result.changes == RecordChanges(7)


def test_direct_validation_drawn_for_me_only() -> None:
    events = (
        channels.events.DirectValidationRequested(8, acc(OTHER), 90),
        channels.events.DirectValidationRequested(9, acc(ME), 90),
    )
    assert plan(block(*events), ME, Known()).actions == (ValidateDirect(9),)


def test_events_the_daemon_does_not_react_to_change_nothing() -> None:
    events = (
        inference.events.ValidationPassed(4, acc(ME)),
        channels.events.DirectValidationRequested(9, acc(OTHER), 90),
    )
    result = plan(block(*events), ME, Known(jobs=frozenset({4}), validations=frozenset({4})))
    assert result.changes == RecordChanges(7) and result.actions == ()


# -- restart: resume_job / resume_validation -------------------------------------------------


def on_chain(state: Any) -> types.InferenceRequest:
    """A request as `Inference.Requests` holds it, in `state`."""
    return types.InferenceRequest(
        acc(REQUESTER), types.H256(MODEL), 1, acc(ME), acc(OTHER), types.H256(b"\x04" * 32),
        None, 3, 6, 2_000_000, 2, types.Permill(250_000), 1000, 0, 40, 5, None, None, 0, state, False, None,
    )  # fmt: skip


def recorded(state: JobState, output: bytes | None = None) -> ExecJob:
    return ExecJob(
        R(4), state, 5, 1, 40, REQUESTER, 2_000_000, "bafy", 6, b"hi", None, output=output
    )


AWAITING = types.RequestStateAwaitingValidation(acc(OTHER), 60, None)
CHALLENGED = types.RequestStateAwaitingValidation(acc(OTHER), 60, 62)


def test_resume_a_job_the_chain_no_longer_has_fails_it() -> None:
    assert resume_job(recorded(JobState.QUEUED), None) == Resume(JobState.FAILED, error="unknown")


def test_resume_takes_the_outcome_of_an_ended_request() -> None:
    cases = {
        types.RequestStateCompleted(900): JobState.COMPLETED,
        types.RequestStateExpired(): JobState.EXPIRED,
        types.RequestStateRejected(): JobState.REJECTED,
        types.RequestStateDeclined(): JobState.FAILED,
    }
    for chain_state, outcome in cases.items():
        for local in (JobState.QUEUED, JobState.SUBMITTING, JobState.SUBMITTED, JobState.FAILED):
            assert resume_job(recorded(local), on_chain(chain_state)) == Resume(outcome)


def test_resume_a_job_awaiting_validation_is_submitted_and_provides_when_challenged() -> None:
    job = recorded(JobState.SUBMITTING, output=b"out")
    assert resume_job(job, on_chain(AWAITING)) == Resume(JobState.SUBMITTED)
    assert resume_job(job, on_chain(CHALLENGED)) == Resume(JobState.SUBMITTED, provide=True)
    # challenged, but the output is not kept here: nothing to provide
    no_output = recorded(JobState.SUBMITTED)
    assert resume_job(no_output, on_chain(CHALLENGED)) == Resume(JobState.SUBMITTED)


def test_resume_an_assigned_job_queues_it_and_resubmits_a_lost_result() -> None:
    assigned = on_chain(types.RequestStateAssigned())
    assert resume_job(recorded(JobState.QUEUED), assigned) == Resume(queue=True)
    assert resume_job(recorded(JobState.SUBMITTING, b"o"), assigned) == Resume(queue=True)
    # `submitted` locally but still assigned on-chain: the extrinsic was lost, submit again
    assert resume_job(recorded(JobState.SUBMITTED, b"o"), assigned) == Resume(
        JobState.SUBMITTING, queue=True
    )
    # given up locally: left to expire on-chain
    assert resume_job(recorded(JobState.FAILED), assigned) == Resume()


def test_resume_runs_again_only_validations_without_a_verdict_on_chain() -> None:
    again = {
        state for state in ValidationState if resume_validation(ValidationJob(R(4), state, 55))
    }
    assert again == {ValidationState.PENDING, ValidationState.SUBMITTING}
