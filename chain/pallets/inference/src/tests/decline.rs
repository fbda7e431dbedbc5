//! `decline`: the executor cannot serve the input; full refund, no reputation change.

use super::*;
use crate::Error;
use frame_support::assert_noop;

#[test]
fn the_executor_declines() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 40);
		assert_ok!(request_with(
			BOB,
			model_id,
			InferenceInput::SealedInline(sealed(5, &[P1])),
			PROMPT,
			MAX_TOKENS,
			PRICE,
			DEADLINE_BLOCKS
		));
		let bob = free(BOB, INFER);
		let from = event_count();
		assert_ok!(Inference::decline(signed(P1), 0));
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: ESCROW,
				}),
				RuntimeEvent::Inference(Event::RequestDeclined { request_id: 0, refund: ESCROW }),
			]
		);
		assert_eq!(req(0).state, RequestState::Declined);
		assert_eq!(free(BOB, INFER), bob + ESCROW);
		assert_eq!(reputation_of(P1), 40);
		assert_eq!(in_flight_of(P1), 0);
		assert!(!BandwidthInUse::<Test>::contains_key(P1));
		// The deadline's entry is skipped.
		run_to(12);
		assert_eq!(req(0).state, RequestState::Declined);
		check_invariants();
	});
}

#[test]
fn rules_in_the_specs_order() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		assert_noop!(
			Inference::decline(RuntimeOrigin::none(), id),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(Inference::decline(signed(P1), 99), Error::<Test>::UnknownRequest);
		assert_noop!(Inference::decline(signed(BOB), id), Error::<Test>::NotExecutor);
		assert_ok!(submit(id, b"o", 1, 1));
		assert_noop!(Inference::decline(signed(P1), id), Error::<Test>::InvalidState);
		assert_noop!(Inference::decline(signed(CHARLIE), id), Error::<Test>::NotExecutor);
	});
}
