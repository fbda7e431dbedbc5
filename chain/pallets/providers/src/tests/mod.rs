//! Providers tests, by topic, over the mock runtime with the real ModelRegistry (models are
//! registered through its calls, as on the runtime).

mod register;
mod registry;
mod reputation;
mod unbond;
mod update;

use crate::{
	mock::*, ModelId, ProviderInfo, ProviderStatus, Providers as ProvidersMap, TotalWeight,
};
use frame_support::assert_ok;
use orml_traits::{MultiCurrency, MultiReservableCurrency};

pub const ENDPOINT: &[u8] = b"http://127.0.0.1:8080";
pub const KEY: [u8; 32] = [7; 32];

pub fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// `count` models registered by Alice (indices `0..count`).
pub fn models(count: u32) -> Vec<ModelId> {
	(0..count).map(|index| register_model(ALICE, index)).collect()
}

/// `who` registers with `stake`, serving `models`, capacity 4, no key.
pub fn register(who: AccountId, stake: Balance, models: &[ModelId]) {
	assert_ok!(Providers::register_provider(
		signed(who),
		stake,
		ENDPOINT.to_vec(),
		models.to_vec(),
		4,
		None
	));
}

pub fn info(who: AccountId) -> ProviderInfo<Test> {
	ProvidersMap::<Test>::get(who).expect("a registered provider")
}

pub fn reserved(who: AccountId) -> Balance {
	Tokens::reserved_balance(INFER, &who)
}

/// The pallet's events so far, oldest first.
pub fn provider_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::Providers(event) => Some(event),
			_ => None,
		})
		.collect()
}

/// Every event so far (Tokens' and the pallet's), to check their order.
pub fn all_events() -> Vec<RuntimeEvent> {
	System::events().into_iter().map(|record| record.event).collect()
}

/// Every record's weight is the spec's formula, and `TotalWeight` is the sum over the active
/// providers.
pub fn assert_weights_consistent() {
	let mut total = 0u128;
	for (_, info) in ProvidersMap::<Test>::iter() {
		assert_eq!(info.weight, (info.stake / UNIT) * (10 + u128::from(info.reputation)));
		if info.status == ProviderStatus::Active {
			total += info.weight;
		}
	}
	assert_eq!(TotalWeight::<Test>::get(), total);
}

#[test]
fn error_and_event_indices_are_the_spec_s() {
	use crate::{Error, Event};
	use codec::Encode;
	let errors = [
		Error::<Test>::AlreadyRegistered,
		Error::<Test>::NotRegistered,
		Error::<Test>::InsufficientStake,
		Error::<Test>::EmptyEndpoint,
		Error::<Test>::EndpointTooLong,
		Error::<Test>::NoModels,
		Error::<Test>::TooManyModels,
		Error::<Test>::DuplicateModel,
		Error::<Test>::UnknownModel,
		Error::<Test>::ModelFull,
		Error::<Test>::InvalidCapacity,
		Error::<Test>::NotActive,
		Error::<Test>::NotUnbonding,
		Error::<Test>::StillUnbonding,
		Error::<Test>::RequestsInFlight,
		Error::<Test>::InvalidReputation,
		Error::<Test>::InvalidEncryptionKey,
	];
	for (index, error) in errors.iter().enumerate() {
		assert_eq!(error.encode(), vec![index as u8]);
	}
	let events: [(Event<Test>, u8); 6] = [
		(Event::ProviderRegistered { provider: ALICE, stake: 1, capacity: 1 }, 0),
		(Event::ProviderUpdated { provider: ALICE }, 1),
		(Event::ProviderUnbonding { provider: ALICE, unlock_at: 1 }, 2),
		(Event::ProviderUnregistered { provider: ALICE, stake: 1 }, 3),
		(Event::ReputationChanged { provider: ALICE, old: 0, new: 1 }, 4),
		(Event::StakeSlashed { provider: ALICE, amount: 1 }, 5),
	];
	for (event, index) in events {
		assert_eq!(event.encode()[0], index);
	}
}

#[test]
fn the_record_and_status_encode_in_the_spec_s_field_order() {
	use codec::Encode;
	new_test_ext().execute_with(|| {
		let model = models(1)[0];
		System::set_block_number(3);
		assert_ok!(Providers::register_provider(
			signed(ALICE),
			MIN_STAKE,
			b"e".to_vec(),
			vec![model],
			2,
			Some(KEY)
		));
		let mut expected = Vec::new();
		expected.extend(MIN_STAKE.to_le_bytes()); // stake: u128
		expected.extend([4, b'e']); // endpoint: compact length 1
		expected.push(4); // models: compact length 1
		expected.extend(model.as_bytes());
		expected.extend(2u32.to_le_bytes()); // capacity
		expected.extend(0u32.to_le_bytes()); // in_flight
		expected.push(0); // reputation
		expected.extend((100u128 * 10).to_le_bytes()); // weight
		expected.push(0); // status: Active
		expected.extend(3u64.to_le_bytes()); // registered_at (the mock's u64 block number)
		expected.push(1); // encryption_key: Some
		expected.extend(KEY);
		assert_eq!(info(ALICE).encode(), expected);
		let unbonding: ProviderStatus<u32> = ProviderStatus::Unbonding { unlock_at: 13 };
		assert_eq!(unbonding.encode(), vec![1, 13, 0, 0, 0]);
	});
}

#[test]
fn storage_keys_use_the_spec_s_hashers() {
	new_test_ext().execute_with(|| {
		let model = models(1)[0];
		register(ALICE, MIN_STAKE, &[model]);
		let mut prefix = sp_io::hashing::twox_128(b"Providers").to_vec();
		let mut key = prefix.clone();
		key.extend(sp_io::hashing::twox_128(b"Providers"));
		let account = codec::Encode::encode(&ALICE);
		key.extend(sp_io::hashing::blake2_128(&account));
		key.extend(&account);
		assert_eq!(ProvidersMap::<Test>::hashed_key_for(ALICE), key);
		assert!(sp_io::storage::get(&key).is_some());
		let mut model_key = prefix.clone();
		model_key.extend(sp_io::hashing::twox_128(b"ModelProviders"));
		model_key.extend(sp_io::hashing::blake2_128(model.as_bytes()));
		model_key.extend(model.as_bytes());
		assert_eq!(
			sp_io::storage::get(&model_key).map(|v| v.to_vec()),
			Some(vec![4, 1, 0, 0, 0, 0, 0, 0, 0])
		);
		prefix.extend(sp_io::hashing::twox_128(b"TotalWeight"));
		assert_eq!(
			sp_io::storage::get(&prefix).map(|v| v.to_vec()),
			Some(1000u128.to_le_bytes().to_vec())
		);
	});
}
