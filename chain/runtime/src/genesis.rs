//! Genesis presets, as devnode builds its genesis (`devnode/_chain.py`): the dev accounts //Alice
//! .. //Ferdie each get `ENDOWMENT` of the native token and `TOKENS_ENDOWMENT` of currencies 1
//! (INFER, the staking currency) and 2 (USDD), and //Alice is the sudo key.

use crate::{AccountId, Balance, CurrencyId, RuntimeGenesisConfig};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET};
use sp_keyring::Sr25519Keyring;

/// devnode's `endowment` (2^60).
pub const ENDOWMENT: Balance = 1 << 60;
/// docs/pallets.md's `GenesisEndowment` of each Tokens currency (10^18).
pub const TOKENS_ENDOWMENT: Balance = 1_000_000_000_000_000_000;
/// INFER (staking) and USDD.
pub const GENESIS_CURRENCIES: [CurrencyId; 2] = [1, 2];

/// The six dev accounts, in devnode's order.
pub fn dev_accounts() -> Vec<AccountId> {
	[
		Sr25519Keyring::Alice,
		Sr25519Keyring::Bob,
		Sr25519Keyring::Charlie,
		Sr25519Keyring::Dave,
		Sr25519Keyring::Eve,
		Sr25519Keyring::Ferdie,
	]
	.into_iter()
	.map(|key| key.to_account_id())
	.collect()
}

fn genesis(endowed: Vec<AccountId>, sudo: AccountId) -> Value {
	let tokens: Vec<(AccountId, CurrencyId, Balance)> = endowed
		.iter()
		.flat_map(|who| {
			GENESIS_CURRENCIES.map(|currency| (who.clone(), currency, TOKENS_ENDOWMENT))
		})
		.collect();
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig {
			balances: endowed.iter().cloned().map(|who| (who, ENDOWMENT)).collect(),
		},
		sudo: pallet_sudo::GenesisConfig { key: Some(sudo) },
		tokens: orml_tokens::GenesisConfig { balances: tokens },
	})
}

/// The preset `id`, as JSON (a patch over the default genesis).
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		DEV_RUNTIME_PRESET => genesis(dev_accounts(), Sr25519Keyring::Alice.to_account_id()),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("a JSON value serializes").into_bytes())
}

/// The presets this runtime has.
pub fn preset_names() -> Vec<PresetId> {
	vec![PresetId::from(DEV_RUNTIME_PRESET)]
}
