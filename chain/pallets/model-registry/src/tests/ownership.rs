//! The owner's calls: `set_price`, `deprecate_model`, `transfer_ownership`.

use super::*;
use crate::{Error, ModelStatus, Models};
use frame_support::assert_noop;
use sp_runtime::DispatchError;

#[test]
fn set_price_changes_price_and_currency() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_ok!(ModelRegistry::set_price(signed(ALICE), model_id, 99, USDD));
		let info = Models::<Test>::get(model_id).unwrap();
		assert_eq!((info.price_per_1k_tokens, info.currency_id), (99, USDD));
		assert_eq!(
			registry_events().last(),
			Some(&crate::Event::PriceSet { model_id, price_per_1k_tokens: 99, currency_id: USDD })
		);
	});
}

#[test]
fn set_price_needs_the_owner_an_active_model_and_a_known_currency() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_noop!(
			ModelRegistry::set_price(signed(BOB), model_id, 1, INFER),
			Error::<Test>::NotOwner
		);
		assert_noop!(
			ModelRegistry::set_price(signed(ALICE), model_id, 1, UNKNOWN_CURRENCY),
			Error::<Test>::UnknownCurrency
		);
		assert_noop!(
			ModelRegistry::set_price(signed(ALICE), ModelId::zero(), 1, INFER),
			Error::<Test>::UnknownModel
		);
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model_id));
		assert_noop!(
			ModelRegistry::set_price(signed(ALICE), model_id, 1, INFER),
			Error::<Test>::ModelDeprecated
		);
	});
}

#[test]
fn deprecate_marks_the_model_once() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_noop!(
			ModelRegistry::deprecate_model(signed(BOB), model_id),
			Error::<Test>::NotOwner
		);
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model_id));
		assert_eq!(Models::<Test>::get(model_id).unwrap().status, ModelStatus::Deprecated);
		assert_eq!(registry_events().last(), Some(&crate::Event::ModelDeprecated { model_id }));
		assert_noop!(
			ModelRegistry::deprecate_model(signed(ALICE), model_id),
			Error::<Test>::ModelDeprecated
		);
	});
}

#[test]
fn transfer_ownership_hands_over_even_a_deprecated_model() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model_id));
		assert_ok!(ModelRegistry::transfer_ownership(signed(ALICE), model_id, BOB));
		assert_eq!(Models::<Test>::get(model_id).unwrap().owner, BOB);
		assert_eq!(
			registry_events().last(),
			Some(&crate::Event::OwnershipTransferred { model_id, from: ALICE, to: BOB })
		);
		assert_noop!(
			ModelRegistry::transfer_ownership(signed(ALICE), model_id, ALICE),
			Error::<Test>::NotOwner
		);
		assert_noop!(
			ModelRegistry::transfer_ownership(RuntimeOrigin::root(), model_id, ALICE),
			DispatchError::BadOrigin
		);
	});
}
