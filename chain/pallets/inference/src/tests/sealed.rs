//! Sealed inputs: the wraps' checks in order, the payload bounds, the commitment as
//! `input_hash`, replay protection, and candidates restricted to wrapped providers with a key.

use super::*;
use crate::{Error, SealedCommitments};
use frame_support::assert_noop;

fn ask(model_id: ModelId, input: InferenceInputOf<Test>) -> DispatchResult {
	request_with(BOB, model_id, input, PROMPT, MAX_TOKENS, PRICE, DEADLINE_BLOCKS)
}

#[test]
fn a_sealed_request_records_its_commitment_and_output_key() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let input = sealed(5, &[P1]);
		assert_ok!(ask(model_id, InferenceInput::SealedInline(input)));
		let record = req(0);
		assert!(record.sealed);
		assert_eq!(record.input_hash, H256::repeat_byte(5));
		assert_eq!(record.output_key, Some([9; 32]));
		assert_eq!(record.input_cid, None);
		assert_eq!(SealedCommitments::<Test>::get(H256::repeat_byte(5)), Some(0));
		check_invariants();
	});
}

#[test]
fn a_sealed_cid_is_checked_and_recorded() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let mut input = sealed(5, &[P1]);
		assert_noop!(
			ask(model_id, InferenceInput::SealedCid(input.clone())),
			Error::<Test>::InvalidCid
		);
		input.payload = cid_of(3);
		assert_ok!(ask(model_id, InferenceInput::SealedCid(input)));
		assert_eq!(req(0).input_cid.map(|cid| cid.into_inner()), Some(cid_of(3)));
		assert_eq!(req(0).input_hash, H256::repeat_byte(5));
	});
}

#[test]
fn a_commitment_is_accepted_once() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		assert_ok!(ask(model_id, InferenceInput::SealedInline(sealed(5, &[P1]))));
		assert_noop!(
			ask(model_id, InferenceInput::SealedInline(sealed(5, &[P1]))),
			Error::<Test>::InputReplayed
		);
		assert_noop!(
			ask(model_id, InferenceInput::SealedCid(sealed(5, &[P1]))),
			Error::<Test>::InputReplayed
		);
		// Even once the first request is over.
		let executor = req(0).executor;
		assert_ok!(Inference::decline(signed(executor), 0));
		assert_noop!(
			ask(model_id, InferenceInput::SealedInline(sealed(5, &[P1]))),
			Error::<Test>::InputReplayed
		);
		assert_ok!(ask(model_id, InferenceInput::SealedInline(sealed(6, &[P1]))));
		check_invariants();
	});
}

#[test]
fn wrap_rules_in_the_specs_order() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let inline_sealed = |input: SealedInput<AccountId>| InferenceInput::SealedInline(input);
		assert_noop!(ask(model_id, inline_sealed(sealed(5, &[]))), Error::<Test>::NoRecipients);
		let many: Vec<AccountId> = (0..=MAX_PROVIDERS_PER_MODEL as u64).map(|i| 500 + i).collect();
		assert_noop!(
			ask(model_id, inline_sealed(sealed(5, &many))),
			Error::<Test>::TooManyRecipients
		);
		assert_noop!(
			ask(model_id, inline_sealed(sealed(5, &[P1, P2, P1]))),
			Error::<Test>::DuplicateRecipient
		);
		let mut long = sealed(5, &[P1, P2]);
		long.wraps[1].wrapped = vec![0; MAX_KEY_WRAP_LENGTH as usize + 1];
		assert_noop!(ask(model_id, inline_sealed(long.clone())), Error::<Test>::KeyWrapTooLong);
		long.wraps[1].wrapped = vec![0; MAX_KEY_WRAP_LENGTH as usize];
		assert_ok!(ask(model_id, inline_sealed(long)));
		// The wraps come before the payload and the replay check after the wraps.
		let mut empty = sealed(5, &[]);
		empty.payload.clear();
		assert_noop!(ask(model_id, inline_sealed(empty)), Error::<Test>::NoRecipients);
		let mut replayed_long = sealed(5, &[P1]);
		replayed_long.wraps[0].wrapped = vec![0; MAX_KEY_WRAP_LENGTH as usize + 1];
		assert_noop!(ask(model_id, inline_sealed(replayed_long)), Error::<Test>::KeyWrapTooLong);
		let mut replayed_empty = sealed(5, &[P1]);
		replayed_empty.payload.clear();
		assert_noop!(ask(model_id, inline_sealed(replayed_empty)), Error::<Test>::InputReplayed);
	});
}

#[test]
fn payload_rules() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		let mut input = sealed(5, &[P1]);
		input.payload.clear();
		assert_noop!(
			ask(model_id, InferenceInput::SealedInline(input.clone())),
			Error::<Test>::EmptyInput
		);
		input.payload = vec![1; MAX_SEALED_INLINE as usize + 1];
		assert_noop!(
			ask(model_id, InferenceInput::SealedInline(input.clone())),
			Error::<Test>::InputTooLarge
		);
		input.payload = vec![1; MAX_SEALED_INLINE as usize];
		assert_ok!(ask(model_id, InferenceInput::SealedInline(input)));
	});
}

#[test]
fn only_wrapped_providers_with_a_key_are_candidates() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider_with(P2, vec![model_id], MIN_STAKE, 8, None);
		// P2 has no encryption key, P3 serves the model but has no wrap.
		provider(P3, model_id);
		assert_noop!(
			ask(model_id, InferenceInput::SealedInline(sealed(5, &[P2, CHARLIE]))),
			Error::<Test>::NoProviderAvailable
		);
		for commitment in 10..30 {
			set_parent_hash(H256::repeat_byte(commitment));
			assert_ok!(ask(model_id, InferenceInput::SealedInline(sealed(commitment, &[P1, P2]))));
			assert_eq!(last_executor(), P1);
			assert_ok!(Inference::decline(signed(P1), NextRequestId::<Test>::get() - 1));
		}
		check_invariants();
	});
}

fn last_executor() -> AccountId {
	req(NextRequestId::<Test>::get() - 1).executor
}

#[test]
fn a_sealed_request_is_validated_only_by_a_provider_with_a_key() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider_with(P2, vec![model_id], MIN_STAKE, 8, None);
		assert_ok!(ask(model_id, InferenceInput::SealedInline(sealed(5, &[P1]))));
		// Reputation 0: always sampled, but P2 cannot open a re-sealed output: settled at once.
		assert_ok!(submit(0, b"out", PROMPT, MAX_TOKENS));
		assert!(matches!(req(0).state, RequestState::Completed { .. }));
		// With a keyed provider it goes to validation.
		provider(P3, model_id);
		assert_ok!(ask(model_id, InferenceInput::SealedInline(sealed(6, &[P1]))));
		assert_ok!(submit(1, b"out", PROMPT, MAX_TOKENS));
		assert_eq!(validator_of(1), P3);
		check_invariants();
	});
}
