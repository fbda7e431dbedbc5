//! What the protocol pallets' benchmarks need from this runtime (`runtime-benchmarks` only): a
//! priced model, funded providers and sr25519 ticket signatures. Only the pallets' own mocks run
//! the benchmarks today (as tests); these let the runtime compile with the feature and give a
//! future `frame-omni-bencher` run the same setup on the real runtime.

use crate::{
	AccountId, Balance, CurrencyId, ModelRegistry, Providers, Runtime, RuntimeOrigin, Tokens,
	INFER, UNIT, USDD,
};
use alloc::{format, vec, vec::Vec};
use genai_primitives::ModelId;
use orml_traits::MultiCurrency;
use sp_core::{crypto::KeyTypeId, sr25519};
use sp_runtime::Permill;

/// Models are priced in USDD (currency 2) in ModelRegistry's own benchmarks.
pub struct BenchmarkCurrency;
impl pallet_model_registry::BenchmarkHelper<CurrencyId> for BenchmarkCurrency {
	fn currency_id() -> CurrencyId {
		USDD
	}
}

/// One setup for Providers, Inference and Channels.
pub struct BenchmarkSetup;

const PRICE_PER_1K: Balance = 1_000;
const STAKE: Balance = 100 * UNIT;
const TICKETS: KeyTypeId = KeyTypeId(*b"tick");

fn author() -> AccountId {
	AccountId::new([0xa0; 32])
}

/// A valid base32 CIDv1 (raw codec, sha2-256 multihash), different for every `index`.
fn cid_of(index: u32) -> Vec<u8> {
	genai_primitives::raw_cid_v1_text(0x12, &sp_io::hashing::blake2_256(&index.to_le_bytes()))
}

fn register_model(owner: &AccountId, index: u32) -> ModelId {
	// UnknownCurrency unless the currency has issuance (it does at genesis; a bare benchmark
	// state may have none).
	Tokens::deposit(INFER, owner, UNIT).expect("minting INFER");
	let cid = cid_of(index);
	ModelRegistry::register_model(
		RuntimeOrigin::signed(owner.clone()),
		cid.clone(),
		b"benchmark model".to_vec(),
		pallet_model_registry::ModelTask::TextGeneration,
		pallet_model_registry::WeightFormat::Safetensors,
		1_000,
		PRICE_PER_1K,
		INFER,
		Permill::from_percent(10),
	)
	.expect("a valid model registration");
	pallet_model_registry::Pallet::<Runtime>::model_id_of(&cid)
}

fn register_provider(who: &AccountId, model: &ModelId, key: Option<[u8; 32]>) {
	Tokens::deposit(INFER, who, 2 * STAKE).expect("minting the stake");
	Providers::register_provider(
		RuntimeOrigin::signed(who.clone()),
		STAKE,
		b"http://127.0.0.1:8000".to_vec(),
		vec![*model],
		1024,
		key,
	)
	.expect("a valid provider registration");
}

impl pallet_providers::BenchmarkHelper<AccountId> for BenchmarkSetup {
	fn register_model(index: u32) -> ModelId {
		register_model(&author(), index)
	}
}

impl pallet_inference::BenchmarkHelper<AccountId> for BenchmarkSetup {
	fn model(author: &AccountId) -> ModelId {
		register_model(author, 0)
	}
	fn provider(who: &AccountId, model: &ModelId) {
		register_provider(who, model, Some([7; 32]));
	}
}

fn ticket_key(index: u32) -> sr25519::Public {
	let seed = format!("//bench{index}").into_bytes();
	sp_io::crypto::sr25519_generate(TICKETS, Some(seed))
}

impl pallet_channels::BenchmarkHelper<AccountId, CurrencyId> for BenchmarkSetup {
	fn model_with_providers(author: &AccountId, providers: &[AccountId]) -> (ModelId, CurrencyId) {
		let model = register_model(author, 0);
		for who in providers {
			register_provider(who, &model, None);
		}
		(model, INFER)
	}
	fn ticket_signer(index: u32) -> AccountId {
		ticket_key(index).into()
	}
	fn sign_ticket(index: u32, message: &[u8]) -> [u8; 64] {
		// the key lives in the benchmark's keystore (frame-omni-bencher provides one)
		sp_io::crypto::sr25519_sign(TICKETS, &ticket_key(index), message)
			.expect("the ticket key is in the keystore")
			.0
	}
}
