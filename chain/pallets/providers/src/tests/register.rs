//! `register_provider`: the record, the stake reserved, the model lists, the weight, the events,
//! and every rule in devnode's order.

use super::*;
use crate::{Error, ModelProviders, ProviderStatus};
use frame_support::{assert_noop, dispatch::GetDispatchInfo, weights::Weight};
use sp_runtime::DispatchError;

fn register_with(
	who: AccountId,
	stake: Balance,
	endpoint: &[u8],
	models: Vec<ModelId>,
	capacity: u32,
	key: Option<[u8; 32]>,
) -> sp_runtime::DispatchResult {
	Providers::register_provider(signed(who), stake, endpoint.to_vec(), models, capacity, key)
}

#[test]
fn stores_the_provider_reserves_the_stake_and_lists_it_on_its_models() {
	new_test_ext().execute_with(|| {
		let ms = models(2);
		System::set_block_number(5);
		let stake = 250 * UNIT + 7;
		assert_ok!(register_with(ALICE, stake, ENDPOINT, ms.clone(), 8, Some(KEY)));
		assert_eq!(
			info(ALICE),
			ProviderInfo {
				stake,
				endpoint: ENDPOINT.to_vec().try_into().unwrap(),
				models: ms.clone().try_into().unwrap(),
				capacity: 8,
				in_flight: 0,
				reputation: 0,
				weight: 250 * 10,
				status: ProviderStatus::Active,
				registered_at: 5,
				encryption_key: Some(KEY),
			}
		);
		assert_eq!(reserved(ALICE), stake);
		assert_eq!(Tokens::free_balance(INFER, &ALICE), ENDOWMENT - stake);
		for model in &ms {
			assert_eq!(ModelProviders::<Test>::get(model).into_inner(), vec![ALICE]);
		}
		assert_eq!(TotalWeight::<Test>::get(), 2_500);
		assert_weights_consistent();
		// Tokens' Reserved comes first, then the pallet's event.
		let events = all_events();
		let n = events.len();
		assert_eq!(
			events[n - 2],
			RuntimeEvent::Tokens(orml_tokens::Event::Reserved {
				currency_id: INFER,
				who: ALICE,
				amount: stake
			})
		);
		assert_eq!(
			events[n - 1],
			RuntimeEvent::Providers(crate::Event::ProviderRegistered {
				provider: ALICE,
				stake,
				capacity: 8
			})
		);
	});
}

#[test]
fn lists_providers_in_registration_order_and_sums_their_weights() {
	new_test_ext().execute_with(|| {
		let ms = models(2);
		register(BOB, MIN_STAKE, &ms);
		register(ALICE, 300 * UNIT, &ms[1..]);
		register(CHARLIE, 150 * UNIT, &ms);
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![BOB, CHARLIE]);
		assert_eq!(ModelProviders::<Test>::get(ms[1]).into_inner(), vec![BOB, ALICE, CHARLIE]);
		assert_eq!(TotalWeight::<Test>::get(), (100 + 300 + 150) * 10);
		assert_weights_consistent();
	});
}

#[test]
fn a_deprecated_model_can_still_be_served() {
	new_test_ext().execute_with(|| {
		let model = models(1)[0];
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model));
		register(BOB, MIN_STAKE, &[model]);
		assert_eq!(ModelProviders::<Test>::get(model).into_inner(), vec![BOB]);
	});
}

#[test]
fn needs_a_signed_origin() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		assert_noop!(
			Providers::register_provider(
				RuntimeOrigin::root(),
				MIN_STAKE,
				ENDPOINT.to_vec(),
				ms,
				1,
				None
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn rejects_an_account_already_registered_active_or_unbonding() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		register(ALICE, MIN_STAKE, &ms);
		// AlreadyRegistered comes before every other rule.
		assert_noop!(
			register_with(ALICE, 0, b"", vec![], 0, None),
			Error::<Test>::AlreadyRegistered
		);
		assert_ok!(Providers::unregister(signed(ALICE)));
		assert_noop!(
			register_with(ALICE, MIN_STAKE, ENDPOINT, ms, 1, None),
			Error::<Test>::AlreadyRegistered
		);
	});
}

#[test]
fn rejects_a_stake_below_the_minimum_before_the_profile() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			register_with(ALICE, MIN_STAKE - 1, b"", vec![], 0, None),
			Error::<Test>::InsufficientStake
		);
		let ms = models(1);
		assert_ok!(register_with(ALICE, MIN_STAKE, ENDPOINT, ms, 1, None));
	});
}

#[test]
fn checks_endpoint_models_and_capacity_in_devnode_s_order() {
	new_test_ext().execute_with(|| {
		let ms = models(17);
		let unknown = ModelId::repeat_byte(0xee);
		let reg = |endpoint: &[u8], models: Vec<ModelId>, capacity: u32| {
			register_with(ALICE, MIN_STAKE, endpoint, models, capacity, None)
		};
		assert_noop!(reg(b"", vec![], 0), Error::<Test>::EmptyEndpoint);
		assert_noop!(reg(&[b'e'; 257], vec![], 0), Error::<Test>::EndpointTooLong);
		assert_noop!(reg(&[b'e'; 256], vec![], 0), Error::<Test>::NoModels);
		assert_noop!(reg(ENDPOINT, ms.clone(), 0), Error::<Test>::TooManyModels);
		assert_noop!(
			reg(ENDPOINT, vec![unknown, ms[0], unknown], 0),
			Error::<Test>::DuplicateModel
		);
		assert_noop!(reg(ENDPOINT, vec![ms[0], unknown], 0), Error::<Test>::UnknownModel);
		assert_noop!(reg(ENDPOINT, ms[..16].to_vec(), 0), Error::<Test>::InvalidCapacity);
		assert_noop!(reg(ENDPOINT, ms[..16].to_vec(), 1025), Error::<Test>::InvalidCapacity);
		assert_ok!(reg(&[b'e'; 256], ms[..16].to_vec(), 1024));
		assert_eq!(info(ALICE).models.len(), 16);
	});
}

#[test]
fn a_stake_the_account_cannot_reserve_fails_with_the_tokens_error() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		assert_noop!(
			register_with(POOR, MIN_STAKE, ENDPOINT, ms.clone(), 1, None),
			orml_tokens::Error::<Test>::BalanceTooLow
		);
		assert_noop!(
			register_with(ALICE, ENDOWMENT + 1, ENDPOINT, ms, 1, None),
			orml_tokens::Error::<Test>::BalanceTooLow
		);
	});
}

#[test]
fn a_full_model_is_refused_after_the_reserve_and_before_the_key() {
	new_test_ext().execute_with(|| {
		let ms = models(2);
		for who in FIRST_EXTRA..FIRST_EXTRA + 64 {
			register(who, MIN_STAKE, &ms[..1]);
		}
		assert_eq!(ModelProviders::<Test>::get(ms[0]).len(), 64);
		// The reserve fails first, then the full list, then the key.
		assert_noop!(
			register_with(POOR, MIN_STAKE, ENDPOINT, vec![ms[1], ms[0]], 1, Some([0; 32])),
			orml_tokens::Error::<Test>::BalanceTooLow
		);
		assert_noop!(
			register_with(ALICE, MIN_STAKE, ENDPOINT, vec![ms[1], ms[0]], 1, Some([0; 32])),
			Error::<Test>::ModelFull
		);
		assert_noop!(
			register_with(ALICE, MIN_STAKE, ENDPOINT, vec![ms[1]], 1, Some([0; 32])),
			Error::<Test>::InvalidEncryptionKey
		);
		assert_ok!(register_with(ALICE, MIN_STAKE, ENDPOINT, vec![ms[1]], 1, Some([1; 32])));
		assert_eq!(ModelProviders::<Test>::get(ms[0]).len(), 64);
		assert_weights_consistent();
	});
}

#[test]
fn the_all_zero_key_is_refused_and_any_other_accepted() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		assert_noop!(
			register_with(ALICE, MIN_STAKE, ENDPOINT, ms.clone(), 1, Some([0; 32])),
			Error::<Test>::InvalidEncryptionKey
		);
		let mut key = [0u8; 32];
		key[31] = 1;
		assert_ok!(register_with(ALICE, MIN_STAKE, ENDPOINT, ms, 1, Some(key)));
		assert_eq!(info(ALICE).encryption_key, Some(key));
	});
}

#[test]
fn weighs_100_million_plus_10_million_per_model() {
	let ms = vec![ModelId::zero(); 3];
	let call = crate::Call::<Test>::register_provider {
		stake: MIN_STAKE,
		endpoint: ENDPOINT.to_vec(),
		models: ms.clone(),
		capacity: 1,
		encryption_key: None,
	};
	assert_eq!(call.get_dispatch_info().call_weight, Weight::from_parts(130_000_000, 4_000));
	let call = crate::Call::<Test>::update_provider {
		endpoint: ENDPOINT.to_vec(),
		models: ms,
		capacity: 1,
		encryption_key: None,
	};
	assert_eq!(call.get_dispatch_info().call_weight, Weight::from_parts(110_000_000, 4_000));
	let fixed: [(crate::Call<Test>, u64); 3] = [
		(crate::Call::unregister {}, 60_000_000),
		(crate::Call::withdraw_unbonded {}, 50_000_000),
		(crate::Call::set_reputation { who: ALICE, reputation: 1 }, 20_000_000),
	];
	for (call, ref_time) in fixed {
		assert_eq!(call.get_dispatch_info().call_weight, Weight::from_parts(ref_time, 4_000));
	}
}

#[test]
fn the_stake_is_compact_encoded_in_the_call() {
	use codec::Encode;
	let call = crate::Call::<Test>::register_provider {
		stake: 1,
		endpoint: vec![],
		models: vec![],
		capacity: 0,
		encryption_key: None,
	};
	// call index 0, compact(1) = 0x04, then two empty vectors, capacity and None.
	assert_eq!(call.encode(), vec![0, 4, 0, 0, 0, 0, 0, 0, 0]);
}
