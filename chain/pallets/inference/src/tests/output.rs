//! `request_output` and `provide_output`: the output deadline, the hash check (plaintext only),
//! the extended validation deadline, and the output timeout (a failed validation).

use super::{validation::awaiting_validation, *};
use crate::{Error, Timeouts};
use frame_support::assert_noop;

#[test]
fn the_validator_asks_for_the_output() {
	new_test_ext().execute_with(|| {
		let (id, _, validator) = awaiting_validation();
		System::set_block_number(5);
		assert_ok!(Inference::request_output(signed(validator), id));
		assert_eq!(
			req(id).state,
			RequestState::AwaitingValidation {
				validator,
				validation_deadline: 21,
				output_deadline: Some(15)
			}
		);
		assert_eq!(Timeouts::<Test>::get(16).into_inner(), vec![id]);
		assert_eq!(last_event(), Event::OutputRequested { request_id: id, deadline: 15 });
		assert_noop!(
			Inference::request_output(signed(validator), id),
			Error::<Test>::OutputAlreadyRequested
		);
		check_invariants();
	});
}

#[test]
fn request_output_rules() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		let assigned = request(req(id).model_id);
		assert_noop!(
			Inference::request_output(RuntimeOrigin::none(), id),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::request_output(signed(validator), 99),
			Error::<Test>::UnknownRequest
		);
		assert_noop!(
			Inference::request_output(signed(CHARLIE), assigned),
			Error::<Test>::InvalidState
		);
		assert_noop!(Inference::request_output(signed(executor), id), Error::<Test>::NotValidator);
	});
}

#[test]
fn the_executor_provides_a_matching_output() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		// Validation deadline 21; the output is requested at 15 (due 25) and provided at 18:
		// the validator gets ValidationPeriod from then, 38.
		System::set_block_number(15);
		assert_ok!(Inference::request_output(signed(validator), id));
		System::set_block_number(18);
		assert_noop!(
			Inference::provide_output(signed(executor), id, b"forged".to_vec()),
			Error::<Test>::OutputHashMismatch
		);
		assert_ok!(Inference::provide_output(signed(executor), id, b"output".to_vec()));
		assert_eq!(
			req(id).state,
			RequestState::AwaitingValidation {
				validator,
				validation_deadline: 38,
				output_deadline: None
			}
		);
		assert_eq!(Timeouts::<Test>::get(39).into_inner(), vec![id]);
		assert_eq!(last_event(), Event::OutputProvided { request_id: id });
		// The output timeout at 26 and the old validation deadline at 22 are skipped.
		run_to(37);
		assert!(matches!(req(id).state, RequestState::AwaitingValidation { .. }));
		assert_ok!(Inference::submit_validation(signed(validator), id, true));
		check_invariants();
	});
}

#[test]
fn an_early_output_keeps_the_validation_deadline() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		assert_ok!(Inference::request_output(signed(validator), id));
		assert_ok!(Inference::provide_output(signed(executor), id, b"output".to_vec()));
		assert_eq!(
			req(id).state,
			RequestState::AwaitingValidation {
				validator,
				validation_deadline: 21,
				output_deadline: None
			}
		);
		assert!(Timeouts::<Test>::get(22).contains(&id));
		assert!(!Timeouts::<Test>::get(21).contains(&id));
		// Past the validation deadline it settles, with no reputation change.
		run_to(22);
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		assert_eq!(reputation_of(executor), 0);
		check_invariants();
	});
}

#[test]
fn provide_output_rules() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		let output = b"output".to_vec();
		assert_noop!(
			Inference::provide_output(RuntimeOrigin::none(), id, output.clone()),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::provide_output(signed(executor), 99, output.clone()),
			Error::<Test>::UnknownRequest
		);
		// Not requested yet.
		assert_noop!(
			Inference::provide_output(signed(executor), id, output.clone()),
			Error::<Test>::InvalidState
		);
		assert_ok!(Inference::request_output(signed(validator), id));
		// NotExecutor before the state and the size.
		assert_noop!(
			Inference::provide_output(signed(validator), id, output.clone()),
			Error::<Test>::NotExecutor
		);
		assert_noop!(
			Inference::provide_output(signed(executor), id, vec![0; MAX_OUTPUT_BYTES as usize + 1]),
			Error::<Test>::OutputTooLarge
		);
		assert_noop!(
			Inference::provide_output(signed(executor), id, vec![0; MAX_OUTPUT_BYTES as usize]),
			Error::<Test>::OutputHashMismatch
		);
		assert_ok!(Inference::provide_output(signed(executor), id, output.clone()));
		assert_noop!(
			Inference::provide_output(signed(executor), id, output),
			Error::<Test>::InvalidState
		);
	});
}

#[test]
fn a_sealed_output_is_not_hash_checked() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider(P2, model_id);
		assert_ok!(request_with(
			BOB,
			model_id,
			InferenceInput::SealedInline(sealed(5, &[P1, P2])),
			PROMPT,
			MAX_TOKENS,
			PRICE,
			DEADLINE_BLOCKS
		));
		let executor = req(0).executor;
		assert_ok!(submit(0, b"sealed output record", PROMPT, MAX_TOKENS));
		let validator = validator_of(0);
		assert_ok!(Inference::request_output(signed(validator), 0));
		// The prompt and output re-sealed to the validator: the chain cannot check it.
		assert_ok!(Inference::provide_output(signed(executor), 0, b"re-sealed".to_vec()));
		assert_eq!(last_event(), Event::OutputProvided { request_id: 0 });
	});
}

#[test]
fn a_withheld_output_is_slashed() {
	new_test_ext().execute_with(|| {
		let (id, executor, validator) = awaiting_validation();
		set_reputation(executor, 30);
		System::set_block_number(3);
		assert_ok!(Inference::request_output(signed(validator), id));
		run_to(13);
		assert!(matches!(req(id).state, RequestState::AwaitingValidation { .. }));
		let bob = free(BOB, INFER);
		let from = event_count();
		run_to(14);
		let slash = MIN_STAKE / 10;
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::Slashed {
					currency_id: INFER,
					who: executor,
					free_amount: 0,
					reserved_amount: slash,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::StakeSlashed {
					provider: executor,
					amount: slash,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
					provider: executor,
					old: 30,
					new: 0,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: ESCROW,
				}),
				RuntimeEvent::Inference(Event::OutputTimedOut { request_id: id, slashed: slash }),
			]
		);
		assert_eq!(req(id).state, RequestState::Rejected);
		assert_eq!(free(BOB, INFER), bob + ESCROW);
		assert!(!Timeouts::<Test>::contains_key(14));
		// The validation deadline's entry (22) is skipped.
		run_to(25);
		assert_eq!(req(id).state, RequestState::Rejected);
		check_invariants();
	});
}

#[test]
fn an_output_requested_past_the_validation_deadline_keeps_the_request_open() {
	new_test_ext().execute_with(|| {
		let (id, _, validator) = awaiting_validation();
		// Validation deadline 21; the output is requested at 20 (due 30).
		run_to(20);
		assert_ok!(Inference::request_output(signed(validator), id));
		run_to(29);
		assert_noop!(Inference::expire(signed(CHARLIE), id), Error::<Test>::NotExpired);
		assert!(matches!(req(id).state, RequestState::AwaitingValidation { .. }));
		run_to(31);
		assert_eq!(req(id).state, RequestState::Rejected);
		assert_eq!(last_event(), Event::OutputTimedOut { request_id: id, slashed: MIN_STAKE / 10 });
		check_invariants();
	});
}
