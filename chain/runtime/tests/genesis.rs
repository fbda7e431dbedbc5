//! The runtime natively: the `development` preset builds devnode's genesis, the pallets sit at
//! devnode's indices, and a transfer and a `register_model` dispatch through the composed runtime.

use frame_support::{
	assert_ok,
	traits::{fungible::Inspect, PalletInfoAccess},
};
use genai_runtime::{
	genesis::{dev_accounts, ENDOWMENT, TOKENS_ENDOWMENT},
	Balances, ModelRegistry, Runtime, RuntimeCall, RuntimeEvent, RuntimeOrigin, Sudo, System,
	Tokens,
};
use orml_traits::MultiCurrency;
use sp_runtime::{traits::Dispatchable, MultiAddress, Permill};

mod common;

/// The development genesis (tests/common), at block 1 so that events are recorded.
fn development() -> sp_io::TestExternalities {
	let mut ext = common::development();
	ext.execute_with(|| System::set_block_number(1));
	ext
}

#[test]
fn pallets_are_at_devnode_s_indices() {
	assert_eq!(<System as PalletInfoAccess>::index(), 0);
	assert_eq!(<genai_runtime::Timestamp as PalletInfoAccess>::index(), 2);
	assert_eq!(<Balances as PalletInfoAccess>::index(), 5);
	assert_eq!(<genai_runtime::TransactionPayment as PalletInfoAccess>::index(), 6);
	assert_eq!(<Sudo as PalletInfoAccess>::index(), 7);
	assert_eq!(<Tokens as PalletInfoAccess>::index(), 10);
	assert_eq!(<ModelRegistry as PalletInfoAccess>::index(), 11);
	assert_eq!(<genai_runtime::Providers as PalletInfoAccess>::index(), 12);
	assert_eq!(<genai_runtime::Inference as PalletInfoAccess>::index(), 13);
	assert_eq!(<genai_runtime::Channels as PalletInfoAccess>::index(), 14);
}

#[test]
fn the_development_preset_endows_the_dev_accounts_as_devnode_does() {
	development().execute_with(|| {
		let accounts = dev_accounts();
		assert_eq!(accounts.len(), 6);
		for who in &accounts {
			assert_eq!(Balances::balance(who), ENDOWMENT);
			for currency in [1, 2] {
				assert_eq!(Tokens::free_balance(currency, who), TOKENS_ENDOWMENT);
			}
		}
		assert_eq!(Tokens::total_issuance(1), 6 * TOKENS_ENDOWMENT);
		assert_eq!(Tokens::total_issuance(3), 0);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(accounts[0].clone()));
	});
}

#[test]
fn a_transfer_and_a_model_registration_dispatch() {
	development().execute_with(|| {
		let accounts = dev_accounts();
		let (alice, bob) = (accounts[0].clone(), accounts[1].clone());
		let transfer = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
			dest: MultiAddress::Id(bob.clone()),
			value: 1_000_000_000_000,
		});
		assert_ok!(transfer.dispatch(RuntimeOrigin::signed(alice.clone())));
		assert_eq!(Balances::balance(&bob), ENDOWMENT + 1_000_000_000_000);

		let cid = b"QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNft".to_vec();
		let register = RuntimeCall::ModelRegistry(pallet_model_registry::Call::register_model {
			cid: cid.clone(),
			name: b"tiny".to_vec(),
			task: pallet_model_registry::ModelTask::TextGeneration,
			format: pallet_model_registry::WeightFormat::Safetensors,
			size_bytes: 100,
			price_per_1k_tokens: 10,
			currency_id: 1,
			author_share: Permill::from_percent(5),
		});
		assert_ok!(register.dispatch(RuntimeOrigin::signed(alice.clone())));
		let model_id = pallet_model_registry::Pallet::<Runtime>::model_id_of(&cid);
		assert!(System::events().iter().any(|record| record.event
			== RuntimeEvent::ModelRegistry(pallet_model_registry::Event::ModelRegistered {
				model_id,
				owner: alice.clone(),
				cid: cid.clone(),
			})));
	});
}
