//! Weights of the Providers calls.
//!
//! These are the weights of docs/pallets.md (the values devnode charges), not yet measured:
//! `benchmarking.rs` has the benchmarks, and on a production chain this file is regenerated from
//! them with `frame-omni-bencher` on reference hardware. `m` is the number of models the call
//! lists.

#![allow(unused_parens, unused_imports, clippy::unnecessary_cast)]

use core::marker::PhantomData;
use frame_support::weights::Weight;

/// Weight functions needed by `pallet_providers`.
pub trait WeightInfo {
	fn register_provider(m: u32) -> Weight;
	fn update_provider(m: u32) -> Weight;
	fn unregister() -> Weight;
	fn withdraw_unbonded() -> Weight;
	fn set_reputation() -> Weight;
}

/// Every call's proof size in docs/pallets.md.
const PROOF_SIZE: u64 = 4_000;
/// What each listed model adds.
const PER_MODEL: u64 = 10_000_000;

fn per_model(base: u64, m: u32) -> Weight {
	Weight::from_parts(base.saturating_add(PER_MODEL.saturating_mul(m as u64)), PROOF_SIZE)
}

/// The spec's weights, for a runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_provider(m: u32) -> Weight {
		per_model(100_000_000, m)
	}
	fn update_provider(m: u32) -> Weight {
		per_model(80_000_000, m)
	}
	fn unregister() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn withdraw_unbonded() -> Weight {
		Weight::from_parts(50_000_000, PROOF_SIZE)
	}
	fn set_reputation() -> Weight {
		Weight::from_parts(20_000_000, PROOF_SIZE)
	}
}

/// The same weights, for tests and mocks.
impl WeightInfo for () {
	fn register_provider(m: u32) -> Weight {
		per_model(100_000_000, m)
	}
	fn update_provider(m: u32) -> Weight {
		per_model(80_000_000, m)
	}
	fn unregister() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn withdraw_unbonded() -> Weight {
		Weight::from_parts(50_000_000, PROOF_SIZE)
	}
	fn set_reputation() -> Weight {
		Weight::from_parts(20_000_000, PROOF_SIZE)
	}
}
