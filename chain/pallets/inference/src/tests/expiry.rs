//! Deadlines: `on_initialize` applies `Timeouts[n]` (expiry of an `Assigned` request, the
//! settlement past the validation deadline), `expire` does the same on demand, and entries
//! whose state no longer matches are skipped.

use super::{validation::awaiting_validation, *};
use crate::{Error, Timeouts};
use frame_support::assert_noop;

#[test]
fn an_unanswered_request_expires_at_block_initialisation() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 30);
		let id = request(model_id);
		assert_eq!(req(id).deadline, 11);
		run_to(11);
		assert_eq!(req(id).state, RequestState::Assigned);
		let bob = free(BOB, INFER);
		let from = event_count();
		run_to(12);
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: ESCROW,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
					provider: P1,
					old: 30,
					new: 20,
				}),
				RuntimeEvent::Inference(Event::RequestExpired { request_id: id, refund: ESCROW }),
			]
		);
		assert_eq!(req(id).state, RequestState::Expired);
		assert_eq!(free(BOB, INFER), bob + ESCROW);
		assert_eq!(in_flight_of(P1), 0);
		assert!(!BandwidthInUse::<Test>::contains_key(P1));
		assert!(!Timeouts::<Test>::contains_key(12));
		check_invariants();
	});
}

#[test]
fn reputation_does_not_go_below_zero() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		set_reputation(P1, 4);
		let id = request(model_id);
		run_to(12);
		assert_eq!(req(id).state, RequestState::Expired);
		assert_eq!(reputation_of(P1), 0);
		// At 0 already: no ReputationChanged.
		let id = request(model_id);
		let from = event_count();
		run_to(23);
		assert_eq!(req(id).state, RequestState::Expired);
		assert!(!events_since(from)
			.iter()
			.any(|event| matches!(event, RuntimeEvent::Providers(_))));
		check_invariants();
	});
}

#[test]
fn anyone_may_expire_a_passed_deadline() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		assert_noop!(
			Inference::expire(RuntimeOrigin::none(), id),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(Inference::expire(signed(CHARLIE), 99), Error::<Test>::UnknownRequest);
		System::set_block_number(11);
		assert_noop!(Inference::expire(signed(CHARLIE), id), Error::<Test>::NotExpired);
		System::set_block_number(12);
		assert_ok!(Inference::expire(signed(CHARLIE), id));
		assert_eq!(last_event(), Event::RequestExpired { request_id: id, refund: ESCROW });
		assert_noop!(Inference::expire(signed(CHARLIE), id), Error::<Test>::NotExpired);
		// The scheduled entry is then skipped.
		let from = event_count();
		Inference::on_initialize(12);
		assert!(events_since(from).is_empty());
		check_invariants();
	});
}

#[test]
fn past_the_validation_deadline_the_result_is_settled() {
	new_test_ext().execute_with(|| {
		let (id, executor, _) = awaiting_validation();
		run_to(21);
		assert!(matches!(req(id).state, RequestState::AwaitingValidation { .. }));
		assert_noop!(Inference::expire(signed(CHARLIE), id), Error::<Test>::NotExpired);
		run_to(22);
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		assert_eq!(reputation_of(executor), 0);
		assert!(
			matches!(last_event(), Event::InferencePaid { request_id, .. } if request_id == id)
		);
		check_invariants();
	});
}

#[test]
fn expire_settles_past_the_validation_deadline() {
	new_test_ext().execute_with(|| {
		let (id, _, _) = awaiting_validation();
		System::set_block_number(22);
		assert_ok!(Inference::expire(signed(CHARLIE), id));
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		check_invariants();
	});
}

#[test]
fn a_block_applies_every_due_request() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider_with(P1, vec![model_id], MIN_STAKE, 64, None);
		let ids: Vec<RequestId> = (0..5).map(|_| request(model_id)).collect();
		assert_eq!(Timeouts::<Test>::get(12).into_inner(), ids);
		// One of them is declined first: its entry is skipped.
		assert_ok!(Inference::decline(signed(P1), ids[2]));
		run_to(12);
		for (i, id) in ids.iter().enumerate() {
			let expected = if i == 2 { RequestState::Declined } else { RequestState::Expired };
			assert_eq!(req(*id).state, expected);
		}
		assert_eq!(in_flight_of(P1), 0);
		check_invariants();
	});
}
