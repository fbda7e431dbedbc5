//! Weights of the Inference calls.
//!
//! These are the weights of docs/pallets.md (the values devnode charges), not yet measured:
//! `benchmarking.rs` has the benchmarks, and on a production chain this file is regenerated from
//! them with `frame-omni-bencher` on reference hardware. `on_initialize` is not in the spec
//! (devnode charges nothing for it): here one storage read when nothing is due, plus `expire`'s
//! weight per due request.

#![allow(unused_parens, unused_imports, clippy::unnecessary_cast)]

use core::marker::PhantomData;
use frame_support::weights::Weight;

/// Weight functions needed by `pallet_inference`.
pub trait WeightInfo {
	/// `b`: the input's weighed bytes (`InferenceInput::weighed_bytes`), `p`:
	/// `MaxProvidersPerModel` (the candidates walked).
	fn request(b: u32, p: u32) -> Weight;
	fn submit_result() -> Weight;
	fn submit_validation() -> Weight;
	fn request_output() -> Weight;
	/// `b`: the output's length.
	fn provide_output(b: u32) -> Weight;
	fn expire() -> Weight;
	fn decline() -> Weight;
	/// `n`: the requests due in the block.
	fn on_initialize(n: u32) -> Weight;
}

/// Every call's proof size in docs/pallets.md.
const PROOF_SIZE: u64 = 5_000;

fn request(b: u32, p: u32) -> Weight {
	Weight::from_parts(
		150_000_000u64
			.saturating_add(2_000u64.saturating_mul(b as u64))
			.saturating_add(5_000_000u64.saturating_mul(p as u64)),
		PROOF_SIZE,
	)
}

fn provide_output(b: u32) -> Weight {
	Weight::from_parts(60_000_000u64.saturating_add(2_000u64.saturating_mul(b as u64)), PROOF_SIZE)
}

fn on_initialize(n: u32) -> Weight {
	// One read of `Timeouts[n]` (25 µs, RocksDB's default read weight), then each due request.
	Weight::from_parts(25_000_000, 0)
		.saturating_add(Weight::from_parts(80_000_000, PROOF_SIZE).saturating_mul(n as u64))
}

/// The spec's weights, for a runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn request(b: u32, p: u32) -> Weight {
		request(b, p)
	}
	fn submit_result() -> Weight {
		Weight::from_parts(150_000_000, PROOF_SIZE)
	}
	fn submit_validation() -> Weight {
		Weight::from_parts(120_000_000, PROOF_SIZE)
	}
	fn request_output() -> Weight {
		Weight::from_parts(40_000_000, PROOF_SIZE)
	}
	fn provide_output(b: u32) -> Weight {
		provide_output(b)
	}
	fn expire() -> Weight {
		Weight::from_parts(80_000_000, PROOF_SIZE)
	}
	fn decline() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn on_initialize(n: u32) -> Weight {
		on_initialize(n)
	}
}

/// The same weights, for tests and mocks.
impl WeightInfo for () {
	fn request(b: u32, p: u32) -> Weight {
		request(b, p)
	}
	fn submit_result() -> Weight {
		Weight::from_parts(150_000_000, PROOF_SIZE)
	}
	fn submit_validation() -> Weight {
		Weight::from_parts(120_000_000, PROOF_SIZE)
	}
	fn request_output() -> Weight {
		Weight::from_parts(40_000_000, PROOF_SIZE)
	}
	fn provide_output(b: u32) -> Weight {
		provide_output(b)
	}
	fn expire() -> Weight {
		Weight::from_parts(80_000_000, PROOF_SIZE)
	}
	fn decline() -> Weight {
		Weight::from_parts(60_000_000, PROOF_SIZE)
	}
	fn on_initialize(n: u32) -> Weight {
		on_initialize(n)
	}
}
