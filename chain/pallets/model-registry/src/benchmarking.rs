//! Benchmarks of the ModelRegistry calls (frame_benchmarking v2), each at its worst case: the
//! longest accepted CID and name. `cargo test --features runtime-benchmarks` runs them as tests
//! against the mock; `frame-omni-bencher` measures them for `weights.rs`.

use super::*;
use crate::Pallet as ModelRegistry;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::traits::Get;
use frame_system::RawOrigin;
use orml_traits::MultiCurrency;
use sp_runtime::traits::{Bounded, Saturating, StaticLookup};

/// A valid base32 CIDv1 (raw codec, sha2-512 digest): 68 bytes, so 1 + 109 = 110 characters,
/// different for every `seed`.
fn long_cid(seed: u8) -> Vec<u8> {
	let digest: Vec<u8> = (0..64).map(|i: u8| i.wrapping_mul(31) ^ seed).collect();
	genai_primitives::raw_cid_v1_text(0x13, &digest)
}

/// A currency with issuance, and `caller` holding some of it.
fn funded_currency<T: Config>(caller: &T::AccountId) -> CurrencyIdOf<T> {
	let currency_id = T::BenchmarkHelper::currency_id();
	let amount = T::Currency::minimum_balance(currency_id).saturating_add(1_000_000_000u32.into());
	T::Currency::deposit(currency_id, caller, amount)
		.expect("the benchmark currency accepts a deposit");
	currency_id
}

/// `caller` registers a model with the longest CID and name; returns its id.
fn registered<T: Config>(caller: &T::AccountId) -> ModelId {
	let currency_id = funded_currency::<T>(caller);
	let cid = long_cid(0);
	let name = alloc::vec![b'n'; T::MaxNameLength::get() as usize];
	ModelRegistry::<T>::register_model(
		RawOrigin::Signed(caller.clone()).into(),
		cid.clone(),
		name,
		ModelTask::TextGeneration,
		WeightFormat::Safetensors,
		1 << 30,
		1_000u32.into(),
		currency_id,
		Permill::from_percent(10),
	)
	.expect("a valid registration");
	ModelRegistry::<T>::model_id_of(&cid)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model() {
		let caller: T::AccountId = whitelisted_caller();
		let currency_id = funded_currency::<T>(&caller);
		let cid = long_cid(0);
		let name = alloc::vec![b'n'; T::MaxNameLength::get() as usize];

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			cid.clone(),
			name,
			ModelTask::TextGeneration,
			WeightFormat::Safetensors,
			1 << 30,
			1_000u32.into(),
			currency_id,
			Permill::from_percent(10),
		);

		let model_id = ModelRegistry::<T>::model_id_of(&cid);
		assert_eq!(Models::<T>::get(model_id).map(|m| m.owner), Some(caller));
		assert_eq!(ModelCount::<T>::get(), 1);
	}

	#[benchmark]
	fn update_model() {
		let caller: T::AccountId = whitelisted_caller();
		let model_id = registered::<T>(&caller);
		let new_cid = long_cid(1);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), model_id, new_cid.clone(), 2 << 30);

		assert_eq!(Models::<T>::get(model_id).map(|m| m.version), Some(2));
		assert_eq!(CidToModel::<T>::get(CidOf::<T>::truncate_from(new_cid)), Some(model_id));
	}

	#[benchmark]
	fn set_price() {
		let caller: T::AccountId = whitelisted_caller();
		let model_id = registered::<T>(&caller);
		let currency_id = T::BenchmarkHelper::currency_id();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), model_id, BalanceOf::<T>::max_value(), currency_id);

		assert_eq!(
			Models::<T>::get(model_id).map(|m| m.price_per_1k_tokens),
			Some(BalanceOf::<T>::max_value())
		);
	}

	#[benchmark]
	fn deprecate_model() {
		let caller: T::AccountId = whitelisted_caller();
		let model_id = registered::<T>(&caller);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), model_id);

		assert_eq!(Models::<T>::get(model_id).map(|m| m.status), Some(ModelStatus::Deprecated));
	}

	#[benchmark]
	fn transfer_ownership() {
		let caller: T::AccountId = whitelisted_caller();
		let model_id = registered::<T>(&caller);
		let new_owner: T::AccountId = account("new_owner", 0, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), model_id, T::Lookup::unlookup(new_owner.clone()));

		assert_eq!(Models::<T>::get(model_id).map(|m| m.owner), Some(new_owner));
	}

	impl_benchmark_test_suite!(ModelRegistry, crate::mock::new_test_ext(), crate::mock::Test);
}
