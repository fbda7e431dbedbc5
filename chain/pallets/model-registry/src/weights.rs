//! Weights of the ModelRegistry calls.
//!
//! These are the fixed weights of docs/pallets.md (the values devnode charges), not yet measured:
//! `benchmarking.rs` has the benchmarks, and on a production chain this file is regenerated from
//! them with `frame-omni-bencher` on reference hardware.

#![allow(unused_parens, unused_imports, clippy::unnecessary_cast)]

use core::marker::PhantomData;
use frame_support::weights::Weight;

/// Weight functions needed by `pallet_model_registry`.
pub trait WeightInfo {
	fn register_model() -> Weight;
	fn update_model() -> Weight;
	fn set_price() -> Weight;
	fn deprecate_model() -> Weight;
	fn transfer_ownership() -> Weight;
}

/// Every call's proof size in docs/pallets.md.
const PROOF_SIZE: u64 = 3_000;

/// The spec's weights, for a runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_model() -> Weight {
		Weight::from_parts(80_000_000, PROOF_SIZE)
	}
	fn update_model() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn set_price() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
	fn deprecate_model() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
	fn transfer_ownership() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
}

/// The same weights, for tests and mocks.
impl WeightInfo for () {
	fn register_model() -> Weight {
		Weight::from_parts(80_000_000, PROOF_SIZE)
	}
	fn update_model() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn set_price() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
	fn deprecate_model() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
	fn transfer_ownership() -> Weight {
		Weight::from_parts(30_000_000, PROOF_SIZE)
	}
}
