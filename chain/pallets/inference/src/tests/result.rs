//! `submit_result`: its rules in the spec's order, the stored hash, CID and counts, the released
//! bandwidth, and the immediate settlement (money rules: ceil, floor, the escrow cap) when no
//! validation is drawn or nobody can validate.

use super::*;
use crate::Error;
use frame_support::assert_noop;
use sp_runtime::DispatchError;

#[test]
fn settles_at_once_without_a_validator() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		let (alice, p1) = (free(ALICE, INFER), free(P1, INFER));
		let bob = free(BOB, INFER) + reserved(BOB, INFER);
		let from = event_count();
		// 10 + 15 tokens at 1_000_000 per 1k: 25_000; 5 % to the author.
		assert_ok!(submit(id, b"output", 10, 15));
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Inference(Event::ResultSubmitted {
					request_id: id,
					output_hash: output_hash(b"output"),
					prompt_tokens: 10,
					completion_tokens: 15,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated {
					currency_id: INFER,
					from: BOB,
					to: ALICE,
					amount: 1_250,
					status: orml_traits::BalanceStatus::Free,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated {
					currency_id: INFER,
					from: BOB,
					to: P1,
					amount: 23_750,
					status: orml_traits::BalanceStatus::Free,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: 5_000,
				}),
				RuntimeEvent::Inference(Event::InferencePaid {
					request_id: id,
					cost: 25_000,
					author: ALICE,
					author_amount: 1_250,
					executor: P1,
					executor_amount: 23_750,
					refund: 5_000,
				}),
			]
		);
		let record = req(id);
		assert_eq!(record.state, RequestState::Completed { cost: 25_000 });
		assert_eq!(record.output_hash, Some(output_hash(b"output")));
		assert_eq!(record.used_tokens, 25);
		assert_eq!(free(ALICE, INFER), alice + 1_250);
		assert_eq!(free(P1, INFER), p1 + 23_750);
		assert_eq!(free(BOB, INFER), bob - 25_000);
		assert_eq!(reserved(BOB, INFER), 0);
		assert_eq!(in_flight_of(P1), 0);
		assert_eq!(BandwidthInUse::<Test>::get(P1), 0);
		assert!(!BandwidthInUse::<Test>::contains_key(P1));
		check_invariants();
	});
}

#[test]
fn orml_repatriation_events() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		let (alice, p1, bob) = (free(ALICE, INFER), free(P1, INFER), free(BOB, INFER));
		let from = event_count();
		assert_ok!(submit(id, b"output", 10, 15));
		let balance_set = |who, free, reserved| {
			RuntimeEvent::Tokens(orml_tokens::Event::BalanceSet {
				currency_id: INFER,
				who,
				free,
				reserved,
			})
		};
		let repatriated = |to, amount| {
			RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated {
				currency_id: INFER,
				from: BOB,
				to,
				amount,
				status: orml_traits::BalanceStatus::Free,
			})
		};
		// What the real orml-tokens emits: the beneficiary's and the payer's `BalanceSet`, then
		// `ReserveRepatriated`; a plain `Unreserved` for the refund.
		let events: Vec<RuntimeEvent> =
			System::events().into_iter().skip(from).map(|record| record.event).collect();
		assert_eq!(
			events[1..8],
			[
				balance_set(ALICE, alice + 1_250, 0),
				balance_set(BOB, bob, ESCROW - 1_250),
				repatriated(ALICE, 1_250),
				balance_set(P1, p1 + 23_750, MIN_STAKE),
				balance_set(BOB, bob, 5_000),
				repatriated(P1, 23_750),
				RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
					currency_id: INFER,
					who: BOB,
					amount: 5_000,
				}),
			]
		);
	});
}

#[test]
fn cost_is_rounded_up_and_the_author_cut_down() {
	new_test_ext().execute_with(|| {
		let model_id = register_model(ALICE, 1, 7, USDD, Permill::from_parts(333_333));
		provider(P1, model_id);
		assert_ok!(request_with(BOB, model_id, inline(b"x"), 100, 900, 7, DEADLINE_BLOCKS));
		assert_eq!(req(0).escrow, 7);
		// 643 × 7 / 1000 = 4.501: cost 5; 5 × 33.3333 % = 1.67: author 1, executor 4.
		assert_ok!(submit(0, b"o", 100, 543));
		assert_eq!(
			last_event(),
			Event::InferencePaid {
				request_id: 0,
				cost: 5,
				author: ALICE,
				author_amount: 1,
				executor: P1,
				executor_amount: 4,
				refund: 2,
			}
		);
		check_invariants();
	});
}

#[test]
fn cost_is_capped_at_the_escrow() {
	new_test_ext().execute_with(|| {
		let model_id = register_model(ALICE, 1, 7, USDD, Permill::from_parts(333_333));
		provider(P1, model_id);
		assert_ok!(request_with(BOB, model_id, inline(b"x"), 100, 900, 7, DEADLINE_BLOCKS));
		// The executor reports more prompt tokens than declared: still at most the escrow.
		assert_ok!(submit(0, b"o", 5_000, 900));
		assert_eq!(
			last_event(),
			Event::InferencePaid {
				request_id: 0,
				cost: 7,
				author: ALICE,
				author_amount: 2,
				executor: P1,
				executor_amount: 5,
				refund: 0,
			}
		);
		assert_eq!(req(0).used_tokens, 5_900);
		check_invariants();
	});
}

#[test]
fn used_tokens_saturate() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		assert_ok!(submit(id, b"o", u32::MAX, 1));
		assert_eq!(req(id).used_tokens, u32::MAX);
		assert_eq!(req(id).state, RequestState::Completed { cost: ESCROW });
		check_invariants();
	});
}

#[test]
fn records_a_valid_output_cid() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		assert_ok!(Inference::submit_result(
			signed(P1),
			id,
			output_hash(b"o"),
			Some(cid_of(7)),
			1,
			1
		));
		assert_eq!(req(id).output_cid.map(|cid| cid.into_inner()), Some(cid_of(7)));
	});
}

#[test]
fn rules_in_the_specs_order() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let id = request(model_id);
		let hash = output_hash(b"o");
		let bad_cid = Some(b"nope".to_vec());
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::none(), id, hash, None, 1, 1),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Inference::submit_result(signed(P1), 99, hash, None, 1, 1),
			Error::<Test>::UnknownRequest
		);
		assert_noop!(
			Inference::submit_result(signed(CHARLIE), id, hash, None, 1, 1),
			Error::<Test>::NotExecutor
		);
		assert_noop!(
			Inference::submit_result(signed(P1), id, hash, bad_cid.clone(), 1, MAX_TOKENS + 1),
			Error::<Test>::InvalidTokenCount
		);
		assert_noop!(
			Inference::submit_result(signed(P1), id, hash, bad_cid.clone(), 1, MAX_TOKENS),
			Error::<Test>::InvalidCid
		);
		// At the deadline it is still accepted; one block later it is not (before the token
		// count is looked at).
		let deadline = req(id).deadline;
		System::set_block_number(deadline + 1);
		assert_noop!(
			Inference::submit_result(signed(P1), id, hash, bad_cid, 1, MAX_TOKENS + 1),
			Error::<Test>::DeadlinePassed
		);
		System::set_block_number(deadline);
		assert_ok!(Inference::submit_result(signed(P1), id, hash, None, 1, MAX_TOKENS));
		// Not `Assigned` any more; a stranger is still NotExecutor first.
		assert_noop!(
			Inference::submit_result(signed(P1), id, hash, None, 1, 1),
			Error::<Test>::InvalidState
		);
		assert_noop!(
			Inference::submit_result(signed(CHARLIE), id, hash, None, 1, 1),
			Error::<Test>::NotExecutor
		);
	});
}
