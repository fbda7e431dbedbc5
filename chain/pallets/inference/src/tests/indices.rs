//! The spec's indices and layouts: events, errors, call indices, storage keys and the SCALE
//! layout of `InferenceRequest` (field order) and `RequestState`.

use super::*;
use crate::{Call, Error, InferenceRequest, SealedCommitments, Timeouts};
use codec::Encode;
use frame_support::{storage::generator::StorageValue as _, Hashable};

fn error_index(error: Error<Test>) -> u8 {
	error.encode()[0]
}

#[test]
fn error_indices_are_the_specs() {
	use Error::*;
	let errors = [
		UnknownModel,
		ModelDeprecated,
		PriceAboveMaximum,
		InputTooLarge,
		EmptyInput,
		InvalidCid,
		InvalidTokenCount,
		InvalidDeadline,
		NoProviderAvailable,
		BandwidthExceeded,
		TooManyTimeouts,
		UnknownRequest,
		NotExecutor,
		NotValidator,
		InvalidState,
		DeadlinePassed,
		OutputAlreadyRequested,
		OutputTooLarge,
		OutputHashMismatch,
		NotExpired,
		NoRecipients,
		TooManyRecipients,
		DuplicateRecipient,
		KeyWrapTooLong,
		InputReplayed,
	];
	for (index, error) in errors.into_iter().enumerate() {
		assert_eq!(error_index(error) as usize, index);
	}
}

#[test]
fn event_indices_are_the_specs() {
	let h = H256::zero();
	let events: Vec<Event<Test>> = vec![
		Event::InferenceRequested {
			request_id: 0,
			requester: 0,
			model_id: h,
			executor: 0,
			escrow: 0,
			deadline: 0,
		},
		Event::ResultSubmitted {
			request_id: 0,
			output_hash: h,
			prompt_tokens: 0,
			completion_tokens: 0,
		},
		Event::ValidationRequested { request_id: 0, validator: 0, deadline: 0 },
		Event::InferencePaid {
			request_id: 0,
			cost: 0,
			author: 0,
			author_amount: 0,
			executor: 0,
			executor_amount: 0,
			refund: 0,
		},
		Event::ValidationPassed { request_id: 0, validator: 0 },
		Event::ValidationFailed { request_id: 0, validator: 0, slashed: 0 },
		Event::OutputRequested { request_id: 0, deadline: 0 },
		Event::OutputProvided { request_id: 0 },
		Event::RequestExpired { request_id: 0, refund: 0 },
		Event::OutputTimedOut { request_id: 0, slashed: 0 },
		Event::RequestDeclined { request_id: 0, refund: 0 },
	];
	for (index, event) in events.into_iter().enumerate() {
		assert_eq!(event.encode()[0] as usize, index);
	}
}

#[test]
fn pallet_and_call_indices_are_the_specs() {
	// Index 13 in the runtime; here the mock's position, so the call indices are what is pinned.
	let calls: Vec<Call<Test>> = vec![
		Call::request {
			model_id: H256::zero(),
			input: inline(b"x"),
			prompt_tokens: 0,
			max_tokens: 0,
			max_price_per_1k_tokens: 0,
			deadline_blocks: 0,
		},
		Call::submit_result {
			request_id: 0,
			output_hash: H256::zero(),
			output_cid: None,
			prompt_tokens: 0,
			completion_tokens: 0,
		},
		Call::submit_validation { request_id: 0, valid: true },
		Call::request_output { request_id: 0 },
		Call::provide_output { request_id: 0, output: vec![] },
		Call::expire { request_id: 0 },
		Call::decline { request_id: 0 },
	];
	for (index, call) in calls.into_iter().enumerate() {
		assert_eq!(call.encode()[0] as usize, index);
	}
}

#[test]
fn the_request_call_encodes_as_devnode_does() {
	// model_id, then InferenceInput::Inline (variant 0, compact length, bytes), then the u32s,
	// the u128 price and the u32 deadline: all fixed width.
	let call = Call::<Test>::request {
		model_id: H256::repeat_byte(1),
		input: inline(b"abc"),
		prompt_tokens: 2,
		max_tokens: 3,
		max_price_per_1k_tokens: 4,
		deadline_blocks: 5,
	};
	let mut expected = vec![0u8];
	expected.extend([1u8; 32]);
	expected.extend([0, 12, b'a', b'b', b'c']);
	expected.extend(2u32.to_le_bytes());
	expected.extend(3u32.to_le_bytes());
	expected.extend(4u128.to_le_bytes());
	expected.extend(5u32.to_le_bytes());
	assert_eq!(call.encode(), expected);
	let sealed_input = InferenceInput::SealedCid(SealedInput {
		commitment: H256::repeat_byte(2),
		output_key: [3; 32],
		wraps: vec![KeyWrap { provider: 4u64, wrapped: vec![5, 6] }],
		payload: vec![7],
	});
	let mut expected = vec![3u8];
	expected.extend([2u8; 32]);
	expected.extend([3u8; 32]);
	expected.push(4); // one wrap
	expected.extend(4u64.to_le_bytes());
	expected.extend([8, 5, 6, 4, 7]);
	assert_eq!(sealed_input.encode(), expected);
}

#[test]
fn storage_keys_use_the_specs_hashers() {
	let prefix = |item: &[u8]| {
		let mut key = sp_io::hashing::twox_128(b"Inference").to_vec();
		key.extend(sp_io::hashing::twox_128(item));
		key
	};
	assert_eq!(NextRequestId::<Test>::storage_value_final_key().to_vec(), prefix(b"NextRequestId"));
	let mut key = prefix(b"Requests");
	key.extend(5u64.twox_64_concat());
	assert_eq!(Requests::<Test>::hashed_key_for(5u64), key);
	let mut key = prefix(b"Timeouts");
	key.extend(7u32.twox_64_concat());
	assert_eq!(Timeouts::<Test>::hashed_key_for(7u32), key);
	let mut key = prefix(b"BandwidthInUse");
	key.extend(P1.blake2_128_concat());
	assert_eq!(BandwidthInUse::<Test>::hashed_key_for(P1), key);
	let mut key = prefix(b"SealedCommitments");
	key.extend(H256::repeat_byte(3).blake2_128_concat());
	assert_eq!(SealedCommitments::<Test>::hashed_key_for(H256::repeat_byte(3)), key);
}

#[test]
fn request_state_variants_are_the_specs() {
	type State = RequestState<AccountId, BlockNumber, Balance>;
	assert_eq!(State::Assigned.encode(), vec![0]);
	let awaiting = State::AwaitingValidation {
		validator: 9,
		validation_deadline: 3,
		output_deadline: Some(4),
	};
	let mut expected = vec![1];
	expected.extend(9u64.to_le_bytes());
	expected.extend(3u32.to_le_bytes());
	expected.extend([1, 4, 0, 0, 0]);
	assert_eq!(awaiting.encode(), expected);
	let mut expected = vec![2];
	expected.extend(5u128.to_le_bytes());
	assert_eq!(State::Completed { cost: 5 }.encode(), expected);
	assert_eq!(State::Expired.encode(), vec![3]);
	assert_eq!(State::Rejected.encode(), vec![4]);
	assert_eq!(State::Declined.encode(), vec![5]);
}

#[test]
fn inference_request_fields_are_in_the_specs_order() {
	let cid: crate::CidOf<Test> = b"Qm".to_vec().try_into().unwrap();
	let record = InferenceRequest::<Test> {
		requester: 1,
		model_id: H256::repeat_byte(2),
		model_version: 3,
		executor: 4,
		author: 5,
		input_hash: H256::repeat_byte(6),
		input_cid: Some(cid.clone()),
		prompt_tokens: 7,
		max_tokens: 8,
		price_per_1k_tokens: 9,
		currency_id: 10,
		author_share: Permill::from_parts(11),
		escrow: 12,
		bandwidth_bytes: 13,
		deadline: 14,
		created_at: 15,
		output_hash: Some(H256::repeat_byte(16)),
		output_cid: None,
		used_tokens: 17,
		state: RequestState::Completed { cost: 18 },
		sealed: true,
		output_key: Some([19; 32]),
	};
	let mut expected = Vec::new();
	expected.extend(1u64.to_le_bytes());
	expected.extend([2u8; 32]);
	expected.extend(3u32.to_le_bytes());
	expected.extend(4u64.to_le_bytes());
	expected.extend(5u64.to_le_bytes());
	expected.extend([6u8; 32]);
	expected.extend([1, 8, b'Q', b'm']);
	expected.extend(7u32.to_le_bytes());
	expected.extend(8u32.to_le_bytes());
	expected.extend(9u128.to_le_bytes());
	expected.extend(10u32.to_le_bytes());
	expected.extend(11u32.to_le_bytes());
	expected.extend(12u128.to_le_bytes());
	expected.extend(13u64.to_le_bytes());
	expected.extend(14u32.to_le_bytes());
	expected.extend(15u32.to_le_bytes());
	expected.push(1);
	expected.extend([16u8; 32]);
	expected.push(0);
	expected.extend(17u32.to_le_bytes());
	expected.push(2);
	expected.extend(18u128.to_le_bytes());
	expected.push(1);
	expected.push(1);
	expected.extend([19u8; 32]);
	assert_eq!(record.encode(), expected);
}
