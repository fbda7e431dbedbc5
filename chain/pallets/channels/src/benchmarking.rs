//! Benchmarks of the Channels calls (frame_benchmarking v2), each at its costly case: every
//! settled result sampled (reputation 0) with a check stored and scheduled, verdicts that pay.
//! `cargo test --features runtime-benchmarks` runs them as tests against the mock;
//! `frame-omni-bencher` measures them for `weights.rs`. A settle's sampled results all fall in
//! one `CheckTimeouts` slot (`MaxTimeoutsPerBlock`), so the ranges stay below 256 results.

use super::*;
use crate::Pallet as ChannelsPallet;
use frame_benchmarking::v2::*;
use frame_support::traits::{Get, Hooks};
use frame_system::RawOrigin;
use genai_primitives::ModelLookup;
use orml_traits::MultiCurrency;
use sp_runtime::traits::{One, Saturating};

/// Settlements in one `settle` (one requester each).
const MAX_SETTLEMENTS: u32 = 4;
/// Results per settlement.
const MAX_RESULTS: u32 = 64;

struct Setup<T: Config> {
	model_id: ModelId,
	currency_id: CurrencyIdOf<T>,
	executor: T::AccountId,
	validator: T::AccountId,
}

/// A model served by an executor and a validator (both at reputation 0).
fn setup<T: Config>() -> Setup<T> {
	let author: T::AccountId = account("author", 0, 0);
	let executor: T::AccountId = account("executor", 0, 0);
	let validator: T::AccountId = account("validator", 0, 0);
	let (model_id, currency_id) =
		T::BenchmarkHelper::model_with_providers(&author, &[executor.clone(), validator.clone()]);
	Setup { model_id, currency_id, executor, validator }
}

/// Requester `index` (a ticket signer) with a channel of 10^9 to the executor.
fn channel_of<T: Config>(setup: &Setup<T>, index: u32) -> T::AccountId {
	let requester = T::BenchmarkHelper::ticket_signer(index);
	let amount: BalanceOf<T> = 1_000_000_000u32.into();
	T::Currency::deposit(
		setup.currency_id,
		&requester,
		amount
			.saturating_mul(2u32.into())
			.saturating_add(T::Currency::minimum_balance(setup.currency_id)),
	)
	.expect("the benchmark currency accepts a deposit");
	ChannelsPallet::<T>::open_channel(
		RawOrigin::Signed(requester.clone()).into(),
		setup.executor.clone(),
		setup.currency_id,
		amount,
	)
	.expect("a channel opens");
	requester
}

/// Requester `index`'s next `results` tickets (10 + 40 tokens each), signed.
fn signed_run<T: Config>(setup: &Setup<T>, index: u32, results: u32) -> ChannelSettlementOf<T> {
	let requester = T::BenchmarkHelper::ticket_signer(index);
	let channel = Channels::<T>::get(&requester, &setup.executor).expect("an open channel");
	let price = T::Models::model_terms(&setup.model_id).expect("the model").price_per_1k_tokens;
	let expiry = frame_system::Pallet::<T>::block_number().saturating_add(50u32.into());
	let (mut head, mut cumulative) = (channel.head, channel.settled_cumulative);
	let results: Vec<DirectResultOf<T>> = (0..results)
		.map(|i| DirectResult {
			model_index: 0,
			prompt_hash: H256::repeat_byte(i as u8),
			max_tokens: 64,
			max_price_per_1k_tokens: price,
			max_amount: 1_000_000u32.into(),
			expiry,
			output_hash: H256::repeat_byte(!(i as u8)),
			prompt_tokens: 10,
			completion_tokens: 40,
		})
		.collect();
	for (offset, result) in results.iter().enumerate() {
		cumulative = cumulative.saturating_add(result.max_amount);
		head = ChannelsPallet::<T>::ticket_hash(
			&head,
			channel.id,
			&setup.executor,
			&setup.model_id,
			result,
			cumulative,
			channel.nonce + 1 + offset as u64,
		);
	}
	let signature =
		T::BenchmarkHelper::sign_ticket(index, &ChannelsPallet::<T>::ticket_message(&head));
	ChannelSettlement {
		requester,
		first_nonce: channel.nonce + 1,
		models: alloc::vec![setup.model_id],
		results,
		signature,
	}
}

/// `n` settled results of requester 0, all awaiting the validator.
fn sampled<T: Config>(setup: &Setup<T>, n: u32) {
	channel_of(setup, 0);
	let run = signed_run(setup, 0, n);
	ChannelsPallet::<T>::settle(RawOrigin::Signed(setup.executor.clone()).into(), alloc::vec![run])
		.expect("a valid settlement");
	assert_eq!(DirectChecks::<T>::iter().count() as u32, n);
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn open_channel() {
		let setup = setup::<T>();
		let requester: T::AccountId = whitelisted_caller();
		let amount: BalanceOf<T> = 1_000_000u32.into();
		T::Currency::deposit(setup.currency_id, &requester, amount.saturating_mul(2u32.into()))
			.expect("a deposit");

		#[extrinsic_call]
		_(RawOrigin::Signed(requester.clone()), setup.executor.clone(), setup.currency_id, amount);

		assert_eq!(
			Channels::<T>::get(&requester, &setup.executor).map(|c| c.deposit),
			Some(amount)
		);
	}

	#[benchmark]
	fn close_channel() {
		let setup = setup::<T>();
		let requester = channel_of(&setup, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(requester.clone()), setup.executor.clone());

		assert!(
			Channels::<T>::get(&requester, &setup.executor).is_some_and(|c| c.closing_at.is_some())
		);
	}

	#[benchmark]
	fn withdraw() {
		let setup = setup::<T>();
		let requester = channel_of(&setup, 0);
		ChannelsPallet::<T>::close_channel(
			RawOrigin::Signed(requester.clone()).into(),
			setup.executor.clone(),
		)
		.expect("closes");
		let closes_at = Channels::<T>::get(&requester, &setup.executor)
			.and_then(|c| c.closing_at)
			.expect("closing");
		frame_system::Pallet::<T>::set_block_number(closes_at);

		#[extrinsic_call]
		_(RawOrigin::Signed(requester.clone()), setup.executor.clone());

		assert!(!Channels::<T>::contains_key(&requester, &setup.executor));
	}

	#[benchmark]
	fn settle(s: Linear<1, MAX_SETTLEMENTS>, r: Linear<1, MAX_RESULTS>) {
		let setup = setup::<T>();
		let settlements: Vec<ChannelSettlementOf<T>> = (0..s)
			.map(|index| {
				channel_of(&setup, index);
				signed_run(&setup, index, r)
			})
			.collect();

		#[extrinsic_call]
		_(RawOrigin::Signed(setup.executor.clone()), settlements);

		assert_eq!(NextDirectId::<T>::get(), u64::from(s * r));
		assert_eq!(DirectChecks::<T>::iter().count() as u32, s * r);
	}

	#[benchmark]
	fn submit_direct_validations(v: Linear<1, MAX_RESULTS>) {
		let setup = setup::<T>();
		sampled(&setup, v);
		let verdicts: Vec<(codec::Compact<DirectId>, bool)> =
			(0..u64::from(v)).map(|id| (codec::Compact(id), true)).collect();

		#[extrinsic_call]
		_(RawOrigin::Signed(setup.validator.clone()), verdicts);

		assert_eq!(DirectChecks::<T>::iter().count(), 0);
	}

	#[benchmark]
	fn on_initialize(n: Linear<0, MAX_RESULTS>) {
		let setup = setup::<T>();
		let now = frame_system::Pallet::<T>::block_number();
		if n > 0 {
			sampled(&setup, n);
		}
		let due = now.saturating_add(T::ValidationPeriod::get()).saturating_add(One::one());
		frame_system::Pallet::<T>::set_block_number(due);

		#[block]
		{
			ChannelsPallet::<T>::on_initialize(due);
		}

		assert_eq!(DirectChecks::<T>::iter().count(), 0);
	}

	impl_benchmark_test_suite!(ChannelsPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
