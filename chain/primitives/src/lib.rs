//! # genai-primitives
//!
//! The narrow interfaces the protocol pallets of docs/pallets.md use to see each other, so that
//! each pallet names its dependencies as associated types of its `Config` (as `frame/balances`
//! does with `Currency`) instead of calling another pallet directly:
//!
//! * [`ModelLookup`]: ModelRegistry's view of a model (price, currency, author and share, version,
//!   whether it takes requests). Implemented by `pallet-model-registry`.
//! * [`ProviderRegistry`]: Providers' view of a provider and the few changes Inference and
//!   Channels make to one (in-flight slots, reputation, slashing). Implemented by
//!   `pallet-providers`.
//! * [`protocol_random`]: the protocol's draw `r(tag, seed, id)` over a seed from a
//!   `frame_support::traits::Randomness` source (the parent hash on a dev chain).
//! * [`raw_cid_v1_text`]: the text of a CIDv1 over a digest, the form a model is registered
//!   under, for the pallets' tests and benchmarks and the runtime's benchmark helpers.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use frame_support::pallet_prelude::DispatchResult;
use sp_core::H256;
use sp_runtime::Permill;

/// `blake2_256` of a model's first CID (docs/pallets.md § ModelRegistry).
pub type ModelId = H256;

/// What a request or a settlement needs to know about a model.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ModelTerms<AccountId, Balance, CurrencyId> {
	/// The model's owner: the author paid `author_share` of every cost.
	pub author: AccountId,
	pub version: u32,
	pub price_per_1k_tokens: Balance,
	pub currency_id: CurrencyId,
	pub author_share: Permill,
	/// `false` once deprecated: no new requests.
	pub active: bool,
}

/// ModelRegistry as the other pallets see it.
pub trait ModelLookup<AccountId> {
	type Balance;
	type CurrencyId;

	/// The model's terms, `None` for an unknown model (a deprecated one is `Some`, `active: false`).
	fn model_terms(
		model_id: &ModelId,
	) -> Option<ModelTerms<AccountId, Self::Balance, Self::CurrencyId>>;
}

/// A provider as Inference and Channels see it (docs/pallets.md § Providers).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProviderSnapshot<Balance> {
	pub stake: Balance,
	pub capacity: u32,
	pub in_flight: u32,
	pub reputation: u8,
	/// `(stake / WeightStakeUnit) * (10 + reputation)`.
	pub weight: u128,
	/// `Active` (not unbonding).
	pub active: bool,
	pub encryption_key: Option<[u8; 32]>,
}

/// Providers as the other pallets see it. Every change keeps `TotalWeight` in step and emits the
/// Providers events devnode emits (`ReputationChanged`, `StakeSlashed`).
pub trait ProviderRegistry<AccountId> {
	type Balance;

	/// The provider's record, `None` if not registered.
	fn provider(who: &AccountId) -> Option<ProviderSnapshot<Self::Balance>>;
	/// `ModelProviders[model_id]`: the active providers serving the model, in registration order.
	fn providers_of(model_id: &ModelId) -> Vec<AccountId>;
	/// `TotalWeight`: the sum of the active providers' weights.
	fn total_weight() -> u128;
	/// `in_flight += 1` (a request assigned to `who`); `NotRegistered` if it is not a provider.
	fn acquire_slot(who: &AccountId) -> DispatchResult;
	/// `in_flight -= 1` (saturating) when a request of `who` reaches a terminal state; a no-op for
	/// an account that is no longer registered.
	fn release_slot(who: &AccountId);
	/// Sets the reputation, clamped to `0..=100`; a no-op when unchanged (no event), else the weight
	/// is recomputed and `ReputationChanged{provider, old, new}` emitted. A no-op for a
	/// non-provider.
	fn set_reputation(who: &AccountId, reputation: u8);
	/// Burns up to `amount` of the provider's reserved stake (Tokens `slash_reserved`), lowers
	/// `stake`, recomputes the weight and emits `StakeSlashed{provider, amount: slashed}`; returns
	/// what was slashed (0 for a non-provider, without an event).
	fn slash_stake(who: &AccountId, amount: Self::Balance) -> Self::Balance;
}

/// The protocol's draw (docs/pallets.md § Inference, Randomness):
/// `blake2_256(tag ++ seed ++ id as u64 LE)` read as a little-endian integer of its first 16
/// bytes. `seed` is `T::Randomness::random_seed().0`: the parent hash on a dev chain
/// ([`ParentHashRandomness`]), BABE's VRF output in production.
pub fn protocol_random(tag: &[u8], seed: &H256, id: u64) -> u128 {
	let mut data = Vec::with_capacity(tag.len() + 32 + 8);
	data.extend_from_slice(tag);
	data.extend_from_slice(seed.as_bytes());
	data.extend_from_slice(&id.to_le_bytes());
	let hash = sp_io::hashing::blake2_256(&data);
	let mut low = [0u8; 16];
	low.copy_from_slice(&hash[..16]);
	u128::from_le_bytes(low)
}

/// A `Randomness` whose seed is the parent block's hash: what devnode uses. A block author can
/// grind it, so it is for dev chains only; a production runtime uses
/// `pallet_babe::RandomnessFromOneEpochAgo` (or a parachain's relay-chain randomness) with the
/// same tags. `random(subject)` is `blake2_256(subject ++ parent_hash)`; `random_seed()` (the
/// empty subject) is the parent hash itself, which is what [`protocol_random`] expects.
pub struct ParentHashRandomness<ParentHash>(core::marker::PhantomData<ParentHash>);

/// Where [`ParentHashRandomness`] reads the parent hash and block number (frame_system in a
/// runtime: `frame_system::Pallet::<Runtime>::parent_hash()`).
pub trait ParentHashSource<BlockNumber> {
	fn parent_hash() -> H256;
	fn block_number() -> BlockNumber;
}

impl<BlockNumber, S: ParentHashSource<BlockNumber>>
	frame_support::traits::Randomness<H256, BlockNumber> for ParentHashRandomness<S>
{
	fn random(subject: &[u8]) -> (H256, BlockNumber) {
		let parent = S::parent_hash();
		let output = if subject.is_empty() {
			parent
		} else {
			let mut data = Vec::with_capacity(subject.len() + 32);
			data.extend_from_slice(subject);
			data.extend_from_slice(parent.as_bytes());
			H256(sp_io::hashing::blake2_256(&data))
		};
		(output, S::block_number())
	}
}

/// The multibase base32 text (`b`, then RFC 4648 lowercase without padding) of the CIDv1 with
/// the raw codec (0x55) over `digest`, hashed by the multihash function `hash_code` (0x12
/// sha2-256, 0x13 sha2-512): a CID ModelRegistry accepts. Used to make distinct valid CIDs in
/// tests and benchmarks.
pub fn raw_cid_v1_text(hash_code: u8, digest: &[u8]) -> Vec<u8> {
	const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
	let mut binary = alloc::vec![0x01, 0x55, hash_code, digest.len() as u8];
	binary.extend_from_slice(digest);
	let mut text = Vec::with_capacity(1 + (binary.len() * 8).div_ceil(5));
	text.push(b'b');
	let (mut acc, mut bits) = (0u32, 0u32);
	for byte in binary {
		acc = (acc << 8) | u32::from(byte);
		bits += 8;
		while bits >= 5 {
			bits -= 5;
			text.push(ALPHABET[((acc >> bits) & 31) as usize]);
		}
	}
	if bits > 0 {
		text.push(ALPHABET[((acc << (5 - bits)) & 31) as usize]);
	}
	text
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn raw_cid_v1_text_is_base32_multibase() {
		// Python: "b" + base64.b32encode(bytes([1, 0x55, 0x12, 0x20]) + bytes(range(32)))
		//   .decode().lower().rstrip("=")
		let digest: Vec<u8> = (0..32).collect();
		assert_eq!(
			raw_cid_v1_text(0x12, &digest),
			b"bafkreiaaaebagbafaydqqcikbmga2dqpcaireeyuculbogazdinryhi6d4".to_vec()
		);
		let long: Vec<u8> = (0..64).collect();
		assert_eq!(raw_cid_v1_text(0x13, &long).len(), 110);
	}

	#[test]
	fn protocol_random_reads_the_low_16_bytes_little_endian() {
		let seed = H256::repeat_byte(7);
		let mut data = b"infer/assign".to_vec();
		data.extend_from_slice(seed.as_bytes());
		data.extend_from_slice(&5u64.to_le_bytes());
		let hash = sp_io::hashing::blake2_256(&data);
		let expected = u128::from_le_bytes(hash[..16].try_into().unwrap());
		assert_eq!(protocol_random(b"infer/assign", &seed, 5), expected);
		assert_ne!(protocol_random(b"infer/assign", &seed, 6), expected);
	}
}
