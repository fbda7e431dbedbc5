//! Benchmarks of the Inference calls (frame_benchmarking v2), each at its worst case:
//! `MaxProvidersPerModel` providers of the model (every candidate walked), a sealed input with a
//! wrap to each at `MaxKeyWrapLength`, a validation drawn (reputation 0), a slash where a call
//! can slash, and the longest output. `cargo test --features runtime-benchmarks` runs them as
//! tests against the mock; `frame-omni-bencher` measures them for `weights.rs`.

use super::*;
use crate::Pallet as Inference;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::traits::{Get, Hooks};
use frame_system::RawOrigin;
use genai_primitives::ModelLookup;
use orml_traits::MultiCurrency;
use sp_runtime::{
	traits::{One, Saturating},
	SaturatedConversion,
};

const PROMPT: u32 = 10;
const MAX_TOKENS: u32 = 20;

/// A valid base32 CIDv1 (raw codec, sha2-512 digest): 110 characters.
fn long_cid() -> Vec<u8> {
	let digest: Vec<u8> = (0..64).map(|i: u8| i.wrapping_mul(31)).collect();
	genai_primitives::raw_cid_v1_text(0x13, &digest)
}

/// A model with `providers` providers (each with an encryption key); the requester, funded for
/// many escrows at the largest request.
fn setup<T: Config>(providers: u32) -> (ModelId, Vec<T::AccountId>, T::AccountId) {
	let author: T::AccountId = account("author", 0, 0);
	let model_id = T::BenchmarkHelper::model(&author);
	let list: Vec<T::AccountId> = (0..providers).map(|i| account("provider", i, 0)).collect();
	for who in &list {
		T::BenchmarkHelper::provider(who, &model_id);
	}
	let requester: T::AccountId = whitelisted_caller();
	let terms = T::Models::model_terms(&model_id).expect("the helper's model");
	let most = price_of(u64::from(T::MaxTokensPerRequest::get()), terms.price_per_1k_tokens);
	let amount = most
		.saturating_mul(300u32.into())
		.saturating_add(T::Currency::minimum_balance(terms.currency_id));
	T::Currency::deposit(terms.currency_id, &requester, amount)
		.expect("the model's currency accepts a deposit");
	(model_id, list, requester)
}

/// `requester` places a plaintext request; its id and executor.
fn placed<T: Config>(
	model_id: ModelId,
	requester: &T::AccountId,
	deadline_blocks: u32,
) -> (RequestId, T::AccountId) {
	let request_id = NextRequestId::<T>::get();
	Inference::<T>::request(
		RawOrigin::Signed(requester.clone()).into(),
		model_id,
		InferenceInput::Inline(vec![b'p'; T::MaxInlineInput::get() as usize]),
		PROMPT,
		MAX_TOKENS,
		BalanceOf::<T>::saturated_from(u128::MAX),
		deadline_blocks.into(),
	)
	.expect("a valid request");
	let executor = Requests::<T>::get(request_id).expect("placed").executor;
	(request_id, executor)
}

/// A request whose result (the hash of `output`) awaits validation; its id, executor and
/// validator.
fn awaiting<T: Config>(output: &[u8]) -> (RequestId, T::AccountId, T::AccountId) {
	let (model_id, _, requester) = setup::<T>(T::MaxProvidersPerModel::get());
	let (request_id, executor) = placed::<T>(model_id, &requester, 10);
	Inference::<T>::submit_result(
		RawOrigin::Signed(executor.clone()).into(),
		request_id,
		H256(sp_io::hashing::blake2_256(output)),
		None,
		PROMPT,
		MAX_TOKENS,
	)
	.expect("a valid result");
	let Some(RequestState::AwaitingValidation { validator, .. }) =
		Requests::<T>::get(request_id).map(|r| r.state)
	else {
		panic!("reputation 0 always draws a validation");
	};
	(request_id, executor, validator)
}

fn advance<T: Config>(blocks: u32) {
	let now = frame_system::Pallet::<T>::block_number();
	frame_system::Pallet::<T>::set_block_number(now.saturating_add(blocks.into()));
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// `b`: the sealed payload's length; `p`: the wraps (one per provider of the model).
	#[benchmark]
	fn request(
		b: Linear<1, { T::MaxSealedInline::get() }>,
		p: Linear<1, { T::MaxProvidersPerModel::get() }>,
	) {
		let (model_id, providers, requester) = setup::<T>(T::MaxProvidersPerModel::get());
		let wraps = providers
			.iter()
			.take(p as usize)
			.map(|who| KeyWrap {
				provider: who.clone(),
				wrapped: vec![1; T::MaxKeyWrapLength::get() as usize],
			})
			.collect();
		let input = InferenceInput::SealedInline(SealedInput {
			commitment: H256::repeat_byte(1),
			output_key: [2; 32],
			wraps,
			payload: vec![3; b as usize],
		});

		#[extrinsic_call]
		_(
			RawOrigin::Signed(requester),
			model_id,
			input,
			PROMPT,
			MAX_TOKENS,
			BalanceOf::<T>::saturated_from(u128::MAX),
			T::MaxDeadline::get(),
		);

		assert_eq!(SealedCommitments::<T>::get(H256::repeat_byte(1)), Some(0));
		assert_eq!(Requests::<T>::get(0).map(|r| r.state), Some(RequestState::Assigned));
	}

	#[benchmark]
	fn submit_result() {
		let (model_id, _, requester) = setup::<T>(T::MaxProvidersPerModel::get());
		let (request_id, executor) = placed::<T>(model_id, &requester, 10);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(executor),
			request_id,
			H256::repeat_byte(4),
			Some(long_cid()),
			PROMPT,
			MAX_TOKENS,
		);

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.state),
			Some(RequestState::AwaitingValidation { .. })
		));
	}

	/// A failed validation: the slash.
	#[benchmark]
	fn submit_validation() {
		let (request_id, _, validator) = awaiting::<T>(b"output");

		#[extrinsic_call]
		_(RawOrigin::Signed(validator), request_id, false);

		assert_eq!(Requests::<T>::get(request_id).map(|r| r.state), Some(RequestState::Rejected));
	}

	#[benchmark]
	fn request_output() {
		let (request_id, _, validator) = awaiting::<T>(b"output");

		#[extrinsic_call]
		_(RawOrigin::Signed(validator), request_id);

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.state),
			Some(RequestState::AwaitingValidation { output_deadline: Some(_), .. })
		));
	}

	/// `b`: the output's length; provided late enough to extend the validation deadline.
	#[benchmark]
	fn provide_output(b: Linear<0, { T::MaxOutputBytes::get() }>) {
		let output = vec![5u8; b as usize];
		let (request_id, executor, validator) = awaiting::<T>(&output);
		Inference::<T>::request_output(RawOrigin::Signed(validator).into(), request_id)
			.expect("the validator asks");
		advance::<T>(5);

		#[extrinsic_call]
		_(RawOrigin::Signed(executor), request_id, output);

		assert!(matches!(
			Requests::<T>::get(request_id).map(|r| r.state),
			Some(RequestState::AwaitingValidation { output_deadline: None, .. })
		));
	}

	/// A withheld output: the slash.
	#[benchmark]
	fn expire() {
		let (request_id, _, validator) = awaiting::<T>(b"output");
		Inference::<T>::request_output(RawOrigin::Signed(validator.clone()).into(), request_id)
			.expect("the validator asks");
		advance::<T>(T::OutputProvidePeriod::get().saturated_into::<u32>() + 1);

		#[extrinsic_call]
		_(RawOrigin::Signed(validator), request_id);

		assert_eq!(Requests::<T>::get(request_id).map(|r| r.state), Some(RequestState::Rejected));
	}

	#[benchmark]
	fn decline() {
		let (model_id, _, requester) = setup::<T>(T::MaxProvidersPerModel::get());
		let (request_id, executor) = placed::<T>(model_id, &requester, 10);

		#[extrinsic_call]
		_(RawOrigin::Signed(executor), request_id);

		assert_eq!(Requests::<T>::get(request_id).map(|r| r.state), Some(RequestState::Declined));
	}

	/// `n` requests expiring in the same block.
	#[benchmark]
	fn on_initialize(n: Linear<0, { T::MaxTimeoutsPerBlock::get() }>) {
		let (model_id, _, requester) = setup::<T>(T::MaxProvidersPerModel::get());
		let ids: Vec<RequestId> = (0..n).map(|_| placed::<T>(model_id, &requester, 10).0).collect();
		let at = frame_system::Pallet::<T>::block_number()
			.saturating_add(10u32.into())
			.saturating_add(One::one());
		assert_eq!(Timeouts::<T>::get(at).len() as u32, n);
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Inference::<T>::on_initialize(at);
		}

		for id in ids {
			assert_eq!(Requests::<T>::get(id).map(|r| r.state), Some(RequestState::Expired));
		}
	}

	impl_benchmark_test_suite!(Inference, crate::mock::new_test_ext(), crate::mock::Test);
}
