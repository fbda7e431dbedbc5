//! Weights of the Channels calls.
//!
//! These are the weights of docs/pallets.md (the values devnode charges), not yet measured:
//! `benchmarking.rs` has the benchmarks, and on a production chain this file is regenerated from
//! them with `frame-omni-bencher` on reference hardware. `on_initialize` (paying overdue checks) has
//! no weight in the spec or devnode; the figure here is this pallet's own estimate.

#![allow(unused_parens, unused_imports, clippy::unnecessary_cast)]

use core::marker::PhantomData;
use frame_support::weights::Weight;

/// Weight functions needed by `pallet_channels`.
pub trait WeightInfo {
	fn open_channel() -> Weight;
	fn close_channel() -> Weight;
	fn withdraw() -> Weight;
	/// `s` settlements carrying `r` results in all.
	fn settle(s: u32, r: u32) -> Weight;
	/// `v` verdicts.
	fn submit_direct_validations(v: u32) -> Weight;
	/// `n` checks falling due in the block.
	fn on_initialize(n: u32) -> Weight;
}

/// Every call's proof size in docs/pallets.md.
const PROOF_SIZE: u64 = 6_000;

fn open_channel() -> Weight {
	Weight::from_parts(60_000_000, PROOF_SIZE)
}
fn close_channel() -> Weight {
	Weight::from_parts(30_000_000, PROOF_SIZE)
}
fn withdraw() -> Weight {
	Weight::from_parts(40_000_000, PROOF_SIZE)
}
fn settle(s: u32, r: u32) -> Weight {
	let ref_time = 50_000_000u64
		.saturating_add(40_000_000u64.saturating_mul(s as u64))
		.saturating_add(30_000_000u64.saturating_mul(r as u64));
	Weight::from_parts(ref_time, PROOF_SIZE)
}
fn submit_direct_validations(v: u32) -> Weight {
	Weight::from_parts(
		30_000_000u64.saturating_add(60_000_000u64.saturating_mul(v as u64)),
		PROOF_SIZE,
	)
}
fn on_initialize(n: u32) -> Weight {
	// One read of the block's `CheckTimeouts`; each due check pays like a passed verdict.
	Weight::from_parts(
		5_000_000u64.saturating_add(60_000_000u64.saturating_mul(n as u64)),
		PROOF_SIZE,
	)
}

/// The spec's weights, for a runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn open_channel() -> Weight {
		open_channel()
	}
	fn close_channel() -> Weight {
		close_channel()
	}
	fn withdraw() -> Weight {
		withdraw()
	}
	fn settle(s: u32, r: u32) -> Weight {
		settle(s, r)
	}
	fn submit_direct_validations(v: u32) -> Weight {
		submit_direct_validations(v)
	}
	fn on_initialize(n: u32) -> Weight {
		on_initialize(n)
	}
}

/// The same weights, for tests and mocks.
impl WeightInfo for () {
	fn open_channel() -> Weight {
		open_channel()
	}
	fn close_channel() -> Weight {
		close_channel()
	}
	fn withdraw() -> Weight {
		withdraw()
	}
	fn settle(s: u32, r: u32) -> Weight {
		settle(s, r)
	}
	fn submit_direct_validations(v: u32) -> Weight {
		submit_direct_validations(v)
	}
	fn on_initialize(n: u32) -> Weight {
		on_initialize(n)
	}
}
