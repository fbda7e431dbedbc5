//! `update_provider`: replaces endpoint, models, capacity and key; the model lists follow
//! (dropped models lose the provider, an emptied list is removed, kept ones keep their order).

use super::*;
use crate::{Error, ModelProviders};
use frame_support::assert_noop;
use sp_runtime::DispatchError;

fn update_with(
	who: AccountId,
	endpoint: &[u8],
	models: Vec<ModelId>,
	capacity: u32,
	key: Option<[u8; 32]>,
) -> sp_runtime::DispatchResult {
	Providers::update_provider(signed(who), endpoint.to_vec(), models, capacity, key)
}

#[test]
fn replaces_the_profile_and_keeps_stake_weight_and_registration() {
	new_test_ext().execute_with(|| {
		let ms = models(3);
		assert_ok!(Providers::register_provider(
			signed(ALICE),
			200 * UNIT,
			ENDPOINT.to_vec(),
			ms[..2].to_vec(),
			4,
			Some(KEY)
		));
		assert_ok!(Providers::set_reputation(RuntimeOrigin::root(), ALICE, 20));
		System::set_block_number(9);
		let before = info(ALICE);
		assert_ok!(update_with(ALICE, b"http://new", vec![ms[2], ms[1]], 16, Some([9; 32])));
		let after = info(ALICE);
		assert_eq!(after.endpoint.to_vec(), b"http://new".to_vec());
		assert_eq!(after.models.to_vec(), vec![ms[2], ms[1]]);
		assert_eq!(after.capacity, 16);
		assert_eq!(after.encryption_key, Some([9; 32]));
		assert_eq!(
			(after.stake, after.reputation, after.weight, after.registered_at, after.in_flight),
			(before.stake, before.reputation, before.weight, before.registered_at, 0)
		);
		assert_eq!(TotalWeight::<Test>::get(), 200 * 30);
		assert_weights_consistent();
		assert_eq!(
			provider_events().last(),
			Some(&crate::Event::ProviderUpdated { provider: ALICE })
		);
	});
}

#[test]
fn dropped_models_lose_the_provider_and_emptied_lists_are_removed() {
	new_test_ext().execute_with(|| {
		let ms = models(3);
		register(ALICE, MIN_STAKE, &ms[..2]);
		register(BOB, MIN_STAKE, &ms[..1]);
		register(CHARLIE, MIN_STAKE, &ms[..1]);
		// Alice drops ms[0] (Bob and Charlie stay, in order) and ms[1] (now empty: removed),
		// and adds ms[2].
		assert_ok!(update_with(ALICE, ENDPOINT, vec![ms[2]], 1, None));
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![BOB, CHARLIE]);
		assert!(!ModelProviders::<Test>::contains_key(ms[1]));
		assert_eq!(ModelProviders::<Test>::get(ms[2]).into_inner(), vec![ALICE]);
		// Bob re-adding the model he serves keeps his place; adding another appends him.
		assert_ok!(update_with(BOB, ENDPOINT, vec![ms[2], ms[0]], 1, None));
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![BOB, CHARLIE]);
		assert_eq!(ModelProviders::<Test>::get(ms[2]).into_inner(), vec![ALICE, BOB]);
	});
}

#[test]
fn removes_the_key_when_none_is_given() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		assert_ok!(Providers::register_provider(
			signed(ALICE),
			MIN_STAKE,
			ENDPOINT.to_vec(),
			ms.clone(),
			1,
			Some(KEY)
		));
		assert_ok!(update_with(ALICE, ENDPOINT, ms, 1, None));
		assert_eq!(info(ALICE).encryption_key, None);
	});
}

#[test]
fn needs_an_active_provider() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		assert_noop!(
			Providers::update_provider(
				RuntimeOrigin::root(),
				ENDPOINT.to_vec(),
				ms.clone(),
				1,
				None
			),
			DispatchError::BadOrigin
		);
		// NotRegistered before the profile's rules.
		assert_noop!(update_with(ALICE, b"", vec![], 0, None), Error::<Test>::NotRegistered);
		register(ALICE, MIN_STAKE, &ms);
		assert_ok!(Providers::unregister(signed(ALICE)));
		assert_noop!(update_with(ALICE, b"", vec![], 0, None), Error::<Test>::NotActive);
	});
}

#[test]
fn checks_the_profile_then_the_key_then_the_lists() {
	new_test_ext().execute_with(|| {
		let ms = models(17);
		register(ALICE, MIN_STAKE, &ms[..1]);
		let unknown = ModelId::repeat_byte(0xee);
		let zero = Some([0u8; 32]);
		assert_noop!(update_with(ALICE, b"", vec![], 0, zero), Error::<Test>::EmptyEndpoint);
		assert_noop!(
			update_with(ALICE, &[b'e'; 257], vec![], 0, zero),
			Error::<Test>::EndpointTooLong
		);
		assert_noop!(update_with(ALICE, ENDPOINT, vec![], 0, zero), Error::<Test>::NoModels);
		assert_noop!(
			update_with(ALICE, ENDPOINT, ms.clone(), 0, zero),
			Error::<Test>::TooManyModels
		);
		assert_noop!(
			update_with(ALICE, ENDPOINT, vec![ms[0], ms[0]], 0, zero),
			Error::<Test>::DuplicateModel
		);
		assert_noop!(
			update_with(ALICE, ENDPOINT, vec![unknown], 0, zero),
			Error::<Test>::UnknownModel
		);
		assert_noop!(
			update_with(ALICE, ENDPOINT, vec![ms[1]], 0, zero),
			Error::<Test>::InvalidCapacity
		);
		assert_noop!(
			update_with(ALICE, ENDPOINT, vec![ms[1]], 1025, zero),
			Error::<Test>::InvalidCapacity
		);
		for who in FIRST_EXTRA..FIRST_EXTRA + 64 {
			register(who, MIN_STAKE, &ms[1..2]);
		}
		// The key is checked before the lists are touched.
		assert_noop!(
			update_with(ALICE, ENDPOINT, vec![ms[1]], 1, zero),
			Error::<Test>::InvalidEncryptionKey
		);
		assert_noop!(update_with(ALICE, ENDPOINT, vec![ms[1]], 1, None), Error::<Test>::ModelFull);
		// Sixteen models, the one already served among them.
		let most: Vec<ModelId> = [ms[0]].into_iter().chain(ms[2..17].iter().copied()).collect();
		assert_ok!(update_with(ALICE, ENDPOINT, most.clone(), 1024, None));
		assert_eq!(info(ALICE).models.into_inner(), most);
	});
}
