//! Sampled validation: the draw to `AwaitingValidation`, a pass (payout, reputation up, capped
//! at 100), a fail (slash, full refund, reputation 0, `Rejected`), and the rules.

use super::*;
use crate::{validation_probability_ppm, Error, Timeouts, TAG_VALIDATE};
use frame_support::assert_noop;
use genai_primitives::protocol_random;

/// P1 and P2 serve the model; Bob's request goes to validation (reputation 0: always sampled)
/// by whichever of the two did not execute. The request id, executor and validator.
pub fn awaiting_validation() -> (RequestId, AccountId, AccountId) {
	let model_id = model();
	provider(P1, model_id);
	provider(P2, model_id);
	let id = request(model_id);
	let executor = req(id).executor;
	assert_ok!(submit(id, b"output", PROMPT, MAX_TOKENS));
	let validator = validator_of(id);
	assert_eq!(validator, if executor == P1 { P2 } else { P1 });
	(id, executor, validator)
}

/// A seed under which request `id` of an executor at `reputation` is sampled.
pub fn sampled_seed(id: RequestId, reputation: u8) {
	seed_where(|seed| {
		protocol_random(TAG_VALIDATE, &seed, id) % 1_000_000
			< validation_probability_ppm(reputation)
	});
}

#[test]
fn a_sampled_result_awaits_its_validator() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider(P2, model_id);
		let id = request(model_id);
		let executor = req(id).executor;
		System::set_block_number(4);
		let from = event_count();
		assert_ok!(submit(id, b"output", PROMPT, MAX_TOKENS));
		let validator = if executor == P1 { P2 } else { P1 };
		assert_eq!(
			req(id).state,
			RequestState::AwaitingValidation {
				validator,
				validation_deadline: 24,
				output_deadline: None
			}
		);
		assert_eq!(Timeouts::<Test>::get(25).into_inner(), vec![id]);
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Inference(Event::ResultSubmitted {
					request_id: id,
					output_hash: output_hash(b"output"),
					prompt_tokens: PROMPT,
					completion_tokens: MAX_TOKENS,
				}),
				RuntimeEvent::Inference(Event::ValidationRequested {
					request_id: id,
					validator,
					deadline: 24,
				}),
			]
		);
		// The escrow stays reserved and the slot taken; the bandwidth is released.
		assert_eq!(reserved(BOB, INFER), ESCROW);
		assert_eq!(in_flight_of(executor), 1);
		assert_eq!(BandwidthInUse::<Test>::get(executor), 0);
		check_invariants();
	});
}

#[test]
fn a_pass_pays_out_and_raises_the_reputation() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		let from = event_count();
		assert_ok!(Inference::submit_validation(signed(validator), id, true));
		let events = events_since(from);
		assert_eq!(events.len(), 5);
		assert_eq!(
			events[2],
			RuntimeEvent::Inference(Event::InferencePaid {
				request_id: id,
				cost: ESCROW,
				author: ALICE,
				author_amount: ESCROW / 20,
				executor,
				executor_amount: ESCROW - ESCROW / 20,
				refund: 0,
			})
		);
		assert_eq!(
			events[3],
			RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
				provider: executor,
				old: 0,
				new: REPUTATION_GAIN as u8,
			})
		);
		assert_eq!(
			events[4],
			RuntimeEvent::Inference(Event::ValidationPassed { request_id: id, validator })
		);
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		assert_eq!(reputation_of(executor), 5);
		assert_eq!(in_flight_of(executor), 0);
		// The entry at the validation deadline is skipped: the request is over.
		run_to(30);
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		check_invariants();
	});
}

#[test]
fn reputation_is_capped_at_100() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 98);
		let id = request(model_id);
		provider(P2, model_id);
		sampled_seed(id, 98);
		assert_ok!(submit(id, b"output", PROMPT, MAX_TOKENS));
		assert_ok!(Inference::submit_validation(signed(P2), id, true));
		assert_eq!(reputation_of(P1), 100);
		check_invariants();
	});
}

#[test]
fn a_fail_slashes_and_refunds_in_full() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 50);
		let id = request(model_id);
		provider(P2, model_id);
		sampled_seed(id, 50);
		assert_ok!(submit(id, b"output", PROMPT, MAX_TOKENS));
		assert_eq!(validator_of(id), P2);
		let bob = free(BOB, INFER);
		let issuance = Tokens::total_issuance(INFER);
		let from = event_count();
		assert_ok!(Inference::submit_validation(signed(P2), id, false));
		let slash = MIN_STAKE / 10;
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::Slashed {
					currency_id: INFER,
					who: P1,
					free_amount: 0,
					reserved_amount: slash,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::StakeSlashed {
					provider: P1,
					amount: slash,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
					provider: P1,
					old: 50,
					new: 0,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: ESCROW,
				}),
				RuntimeEvent::Inference(Event::ValidationFailed {
					request_id: id,
					validator: P2,
					slashed: slash,
				}),
			]
		);
		assert_eq!(req(id).state, RequestState::Rejected);
		assert_eq!(free(BOB, INFER), bob + ESCROW);
		assert_eq!(stake_of(P1), MIN_STAKE - slash);
		assert_eq!(reserved(P1, INFER), MIN_STAKE - slash);
		assert_eq!(Tokens::total_issuance(INFER), issuance - slash);
		assert_eq!(in_flight_of(P1), 0);
		check_invariants();
	});
}

#[test]
fn not_sampled_settles_at_once() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 100);
		let id = request(model_id);
		provider(P2, model_id);
		seed_where(|seed| protocol_random(TAG_VALIDATE, &seed, id) % 1_000_000 >= 10_000);
		assert_ok!(submit(id, b"output", PROMPT, MAX_TOKENS));
		assert!(matches!(req(id).state, RequestState::Completed { .. }));
		check_invariants();
	});
}

#[test]
fn rules_in_the_specs_order() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		let model_id = req(id).model_id;
		let assigned = request(model_id);
		assert_noop!(
			Inference::submit_validation(RuntimeOrigin::none(), id, true),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::submit_validation(signed(validator), 99, true),
			Error::<Test>::UnknownRequest
		);
		// InvalidState before NotValidator.
		assert_noop!(
			Inference::submit_validation(signed(CHARLIE), assigned, true),
			Error::<Test>::InvalidState
		);
		assert_noop!(
			Inference::submit_validation(signed(executor), id, true),
			Error::<Test>::NotValidator
		);
		assert_noop!(
			Inference::submit_validation(signed(CHARLIE), id, false),
			Error::<Test>::NotValidator
		);
		assert_ok!(Inference::submit_validation(signed(validator), id, true));
		assert_noop!(
			Inference::submit_validation(signed(validator), id, true),
			Error::<Test>::InvalidState
		);
	});
}

#[test]
fn a_full_validation_deadline_block_refuses_the_result() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider(P2, model_id);
		let id = request(model_id);
		// Submitted at block 1: the validation deadline is 21, its entry at 22.
		let full: frame_support::BoundedVec<RequestId, _> =
			vec![1_000; MAX_TIMEOUTS_PER_BLOCK as usize].try_into().unwrap();
		Timeouts::<Test>::insert(22, full);
		frame_support::assert_noop!(
			submit(id, b"output", PROMPT, MAX_TOKENS),
			Error::<Test>::TooManyTimeouts
		);
		assert_eq!(req(id).state, RequestState::Assigned);
	});
}
