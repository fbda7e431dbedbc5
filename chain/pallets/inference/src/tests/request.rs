//! `request`: the record, the escrow, the booking on the executor, the deadline's `Timeouts`
//! entry, the event, and every rule in the spec's order.

use super::*;
use crate::{Error, InferenceRequest, Timeouts};
use frame_support::{assert_noop, BoundedVec};
use sp_runtime::DispatchError;

#[test]
fn books_the_request_on_the_executor() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		System::set_block_number(5);
		let from = event_count();
		let id = request(model_id);
		assert_eq!(id, 0);
		assert_eq!(NextRequestId::<Test>::get(), 1);
		assert_eq!(
			req(id),
			InferenceRequest {
				requester: BOB,
				model_id,
				model_version: 1,
				executor: P1,
				author: ALICE,
				input_hash: H256(sp_io::hashing::blake2_256(PROMPT_TEXT)),
				input_cid: None,
				prompt_tokens: PROMPT,
				max_tokens: MAX_TOKENS,
				price_per_1k_tokens: PRICE,
				currency_id: INFER,
				author_share: Permill::from_percent(5),
				escrow: ESCROW,
				bandwidth_bytes: BANDWIDTH,
				deadline: 15,
				created_at: 5,
				output_hash: None,
				output_cid: None,
				used_tokens: 0,
				state: RequestState::Assigned,
				sealed: false,
				output_key: None,
			}
		);
		assert_eq!(reserved(BOB, INFER), ESCROW);
		assert_eq!(in_flight_of(P1), 1);
		assert_eq!(BandwidthInUse::<Test>::get(P1), BANDWIDTH);
		assert_eq!(Timeouts::<Test>::get(16).into_inner(), vec![id]);
		assert_eq!(
			events_since(from),
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::Reserved {
					currency_id: INFER,
					who: BOB,
					amount: ESCROW
				}),
				RuntimeEvent::Inference(Event::InferenceRequested {
					request_id: id,
					requester: BOB,
					model_id,
					executor: P1,
					escrow: ESCROW,
					deadline: 15,
				}),
			]
		);
		let second = request(model_id);
		assert_eq!(second, 1);
		assert_eq!(Timeouts::<Test>::get(16).into_inner(), vec![0, 1]);
		assert_eq!(BandwidthInUse::<Test>::get(P1), 2 * BANDWIDTH);
		check_invariants();
	});
}

#[test]
fn a_cid_input_is_recorded_and_hashed() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let cid = cid_of(42);
		assert_ok!(request_with(
			BOB,
			model_id,
			InferenceInput::Cid(cid.clone()),
			PROMPT,
			MAX_TOKENS,
			PRICE,
			DEADLINE_BLOCKS
		));
		let record = req(0);
		let bounded: BoundedVec<u8, _> = cid.clone().try_into().unwrap();
		assert_eq!(record.input_cid, Some(bounded));
		assert_eq!(record.input_hash, H256(sp_io::hashing::blake2_256(&cid)));
		assert!(!record.sealed);
	});
}

#[test]
fn escrow_is_rounded_up() {
	new_test_ext().execute_with(|| {
		let model_id = register_model(ALICE, 1, 7, USDD, Permill::from_percent(5));
		provider(P1, model_id);
		// (10 + 20) × 7 / 1000 = 0.21: one unit.
		assert_ok!(request_with(BOB, model_id, inline(b"x"), 10, 20, 7, DEADLINE_BLOCKS));
		assert_eq!(req(0).escrow, 1);
		assert_eq!(req(0).currency_id, USDD);
		assert_eq!(reserved(BOB, USDD), 1);
		// 1000 × 7 / 1000 = 7 exactly.
		assert_ok!(request_with(BOB, model_id, inline(b"x"), 400, 600, 7, DEADLINE_BLOCKS));
		assert_eq!(req(1).escrow, 7);
		check_invariants();
	});
}

#[test]
fn needs_a_signed_origin() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		assert_noop!(
			Inference::request(
				RuntimeOrigin::none(),
				model_id,
				inline(b"x"),
				PROMPT,
				MAX_TOKENS,
				PRICE,
				DEADLINE_BLOCKS
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn model_rules() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let ask = |model_id, max_price| {
			request_with(BOB, model_id, inline(b"x"), 1, 1, max_price, DEADLINE_BLOCKS)
		};
		assert_noop!(ask(H256::repeat_byte(9), PRICE), Error::<Test>::UnknownModel);
		assert_noop!(ask(model_id, PRICE - 1), Error::<Test>::PriceAboveMaximum);
		assert_ok!(ask(model_id, PRICE));
		assert_ok!(ask(model_id, PRICE + 1));
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model_id));
		// Deprecated comes before the price.
		assert_noop!(ask(model_id, PRICE - 1), Error::<Test>::ModelDeprecated);
	});
}

#[test]
fn input_rules() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let ask = |input| request_with(BOB, model_id, input, 1, 1, PRICE, DEADLINE_BLOCKS);
		assert_noop!(ask(inline(b"")), Error::<Test>::EmptyInput);
		assert_noop!(ask(InferenceInput::Cid(vec![])), Error::<Test>::EmptyInput);
		assert_noop!(
			ask(inline(&vec![1; MAX_INLINE_INPUT as usize + 1])),
			Error::<Test>::InputTooLarge
		);
		assert_ok!(ask(inline(&vec![1; MAX_INLINE_INPUT as usize])));
		assert_noop!(ask(InferenceInput::Cid(b"not-a-cid".to_vec())), Error::<Test>::InvalidCid);
		// A valid CID text past MaxCidLength is InvalidCid too.
		let mut long = b"b".to_vec();
		long.extend(vec![b'a'; 200]);
		assert_noop!(ask(InferenceInput::Cid(long)), Error::<Test>::InvalidCid);
		// An inline input is not checked as a CID.
		assert_ok!(ask(inline(b"not-a-cid")));
	});
}

#[test]
fn token_and_deadline_rules() {
	new_test_ext().execute_with(|| {
		let model_id = register_model(ALICE, 1, 1, INFER, Permill::zero());
		provider_with(P1, vec![model_id], 1_000 * MIN_STAKE, 8, None);
		let ask = |prompt, max, deadline| {
			request_with(BOB, model_id, inline(b"x"), prompt, max, 1, deadline)
		};
		assert_noop!(ask(5, 0, 10), Error::<Test>::InvalidTokenCount);
		assert_noop!(ask(1, MAX_TOKENS_PER_REQUEST, 10), Error::<Test>::InvalidTokenCount);
		assert_noop!(ask(u32::MAX, u32::MAX, 10), Error::<Test>::InvalidTokenCount);
		assert_noop!(ask(1, 1, MIN_DEADLINE - 1), Error::<Test>::InvalidDeadline);
		assert_noop!(ask(1, 1, MAX_DEADLINE + 1), Error::<Test>::InvalidDeadline);
		assert_ok!(ask(0, 1, MIN_DEADLINE));
		assert_ok!(ask(1, 2, MAX_DEADLINE));
		// The token rule comes before the deadline rule.
		assert_noop!(ask(5, 0, 0), Error::<Test>::InvalidTokenCount);
	});
}

#[test]
fn checks_come_in_the_specs_order() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		// No provider either: every argument check comes before the provider search.
		let ask = |input, max_price, max, deadline| {
			request_with(BOB, model_id, input, 1, max, max_price, deadline)
		};
		assert_noop!(ask(inline(b""), PRICE - 1, 0, 0), Error::<Test>::PriceAboveMaximum);
		assert_noop!(ask(inline(b""), PRICE, 0, 0), Error::<Test>::EmptyInput);
		assert_noop!(
			ask(inline(&vec![1; MAX_INLINE_INPUT as usize + 1]), PRICE, 0, 0),
			Error::<Test>::InputTooLarge
		);
		assert_noop!(ask(inline(b"x"), PRICE, 0, 0), Error::<Test>::InvalidTokenCount);
		assert_noop!(ask(inline(b"x"), PRICE, 1, 0), Error::<Test>::InvalidDeadline);
		assert_noop!(ask(inline(b"x"), PRICE, 1, 5), Error::<Test>::NoProviderAvailable);
	});
}

#[test]
fn no_provider_available() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		let other = register_model(ALICE, 1, PRICE, INFER, Permill::zero());
		let ask = || request_with(BOB, model_id, inline(b"x"), 1, 1, PRICE, DEADLINE_BLOCKS);
		// Nobody serves it (P1 serves another model).
		provider(P1, other);
		assert_noop!(ask(), Error::<Test>::NoProviderAvailable);
		// The requester itself is not a candidate.
		provider(BOB, model_id);
		assert_noop!(ask(), Error::<Test>::NoProviderAvailable);
		// A provider at capacity is not a candidate.
		provider_with(P2, vec![model_id], MIN_STAKE, 1, None);
		assert_ok!(ask());
		assert_eq!(req(0).executor, P2);
		assert_noop!(ask(), Error::<Test>::NoProviderAvailable);
		// An unbonding provider is not a candidate.
		provider(P3, model_id);
		assert_ok!(Providers::unregister(signed(P3)));
		assert_noop!(ask(), Error::<Test>::NoProviderAvailable);
		check_invariants();
	});
}

#[test]
fn bandwidth_is_weight_proportional() {
	new_test_ext().execute_with(|| {
		let model_id = register_model(ALICE, 1, 1, INFER, Permill::zero());
		provider(P1, model_id);
		let ask = |max| request_with(BOB, model_id, inline(b"x"), 0, max, 1, DEADLINE_BLOCKS);
		// Alone, P1's share is the whole BlockBandwidthBytes: 34_400 × 640 bytes.
		let whole = (BLOCK_BANDWIDTH_BYTES / OUTPUT_BYTES_PER_TOKEN as u64) as u32;
		assert_noop!(ask(whole + 1), Error::<Test>::BandwidthExceeded);
		// Another provider of another model halves P1's share (TotalWeight counts it).
		let other = register_model(ALICE, 2, 1, INFER, Permill::zero());
		provider(P2, other);
		assert_noop!(ask(whole / 2 + 1), Error::<Test>::BandwidthExceeded);
		assert_ok!(ask(whole / 2));
		assert_eq!(BandwidthInUse::<Test>::get(P1), BLOCK_BANDWIDTH_BYTES / 2);
		// Nothing left: even one token exceeds it, while capacity is left.
		assert_noop!(ask(1), Error::<Test>::BandwidthExceeded);
		check_invariants();
	});
}

#[test]
fn the_escrow_must_be_payable() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let nobody: AccountId = 999;
		assert_noop!(
			request_with(nobody, model_id, inline(b"x"), 1, 1, PRICE, DEADLINE_BLOCKS),
			orml_tokens::Error::<Test>::BalanceTooLow
		);
	});
}

#[test]
fn too_many_timeouts_in_one_block() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider_with(P1, vec![model_id], MIN_STAKE, 1024, None);
		let full: BoundedVec<RequestId, _> =
			vec![1_000; MAX_TIMEOUTS_PER_BLOCK as usize].try_into().unwrap();
		// Block 1 + 10: the deadline; its entry goes to block 12.
		Timeouts::<Test>::insert(12, full);
		assert_noop!(
			request_with(BOB, model_id, inline(b"x"), 1, 1, PRICE, DEADLINE_BLOCKS),
			Error::<Test>::TooManyTimeouts
		);
		assert_ok!(request_with(BOB, model_id, inline(b"x"), 1, 1, PRICE, DEADLINE_BLOCKS + 1));
	});
}
