//! Benchmarks of the Providers calls (frame_benchmarking v2), each at its worst case: the most
//! models, each with `MaxProvidersPerModel - 1` providers listed before the caller, the longest
//! endpoint. `cargo test --features runtime-benchmarks` runs them as tests against the mock;
//! `frame-omni-bencher` measures them for `weights.rs`.

use super::*;
use crate::Pallet as ProvidersPallet;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::traits::Get;
use frame_system::RawOrigin;
use orml_traits::MultiCurrency;
use sp_runtime::traits::{Saturating, StaticLookup};

/// `who` holds twice the minimum stake in the stake currency.
fn funded<T: Config>(who: &T::AccountId) -> BalanceOf<T> {
	let stake = T::MinStake::get();
	T::Currency::deposit(T::StakeCurrencyId::get(), who, stake.saturating_add(stake))
		.expect("the stake currency accepts a deposit");
	stake
}

fn endpoint<T: Config>() -> Vec<u8> {
	alloc::vec![b'e'; T::MaxEndpointLength::get() as usize]
}

/// `count` models, starting at `first`, each with `MaxProvidersPerModel - 1` providers listed.
fn crowded_models<T: Config>(first: u32, count: u32) -> Vec<ModelId> {
	let models: Vec<ModelId> =
		(first..first + count).map(T::BenchmarkHelper::register_model).collect();
	for i in 0..T::MaxProvidersPerModel::get().saturating_sub(1) {
		let other: T::AccountId = account("other", i, first);
		let stake = funded::<T>(&other);
		ProvidersPallet::<T>::register_provider(
			RawOrigin::Signed(other).into(),
			stake,
			b"http://other".to_vec(),
			models.clone(),
			1,
			None,
		)
		.expect("a valid registration");
	}
	models
}

/// `caller` registers as a provider of `models`.
fn registered<T: Config>(caller: &T::AccountId, models: Vec<ModelId>) {
	let stake = funded::<T>(caller);
	ProvidersPallet::<T>::register_provider(
		RawOrigin::Signed(caller.clone()).into(),
		stake,
		endpoint::<T>(),
		models,
		T::MaxCapacity::get(),
		Some([7; 32]),
	)
	.expect("a valid registration");
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_provider(m: Linear<1, { T::MaxModelsPerProvider::get() }>) {
		let caller: T::AccountId = whitelisted_caller();
		let models = crowded_models::<T>(0, m);
		let stake = funded::<T>(&caller);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			stake,
			endpoint::<T>(),
			models.clone(),
			T::MaxCapacity::get(),
			Some([7; 32]),
		);

		assert_eq!(ModelProviders::<T>::get(models[0]).last(), Some(&caller));
		assert!(Providers::<T>::get(&caller).is_some());
	}

	#[benchmark]
	fn update_provider(m: Linear<1, { T::MaxModelsPerProvider::get() }>) {
		let caller: T::AccountId = whitelisted_caller();
		let max = T::MaxModelsPerProvider::get();
		let old = crowded_models::<T>(0, max);
		registered::<T>(&caller, old.clone());
		// Every old model is dropped (its list shrinks) and every new one is crowded.
		let new = crowded_models::<T>(max, m);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), endpoint::<T>(), new.clone(), 1, Some([8; 32]));

		assert_eq!(Providers::<T>::get(&caller).map(|p| p.models.into_inner()), Some(new));
		assert!(!ModelProviders::<T>::get(old[0]).contains(&caller));
	}

	#[benchmark]
	fn unregister() {
		let caller: T::AccountId = whitelisted_caller();
		let models = crowded_models::<T>(0, T::MaxModelsPerProvider::get());
		registered::<T>(&caller, models.clone());

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(!ModelProviders::<T>::get(models[0]).contains(&caller));
		assert!(Providers::<T>::get(&caller).is_some_and(|p| !p.is_active()));
	}

	#[benchmark]
	fn withdraw_unbonded() {
		let caller: T::AccountId = whitelisted_caller();
		let models = crowded_models::<T>(0, T::MaxModelsPerProvider::get());
		registered::<T>(&caller, models);
		ProvidersPallet::<T>::unregister(RawOrigin::Signed(caller.clone()).into())
			.expect("an active provider unregisters");
		let now = frame_system::Pallet::<T>::block_number();
		frame_system::Pallet::<T>::set_block_number(now.saturating_add(T::UnbondingPeriod::get()));

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Providers::<T>::get(&caller).is_none());
	}

	#[benchmark]
	fn set_reputation() {
		let caller: T::AccountId = whitelisted_caller();
		let models = crowded_models::<T>(0, T::MaxModelsPerProvider::get());
		registered::<T>(&caller, models);

		#[extrinsic_call]
		_(RawOrigin::Root, T::Lookup::unlookup(caller.clone()), MAX_REPUTATION);

		assert_eq!(Providers::<T>::get(&caller).map(|p| p.reputation), Some(MAX_REPUTATION));
	}

	impl_benchmark_test_suite!(ProvidersPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
