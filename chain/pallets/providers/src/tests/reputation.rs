//! `set_reputation` (root): the rules, the event, and the weight and `TotalWeight` following.

use super::*;
use crate::Error;
use frame_support::assert_noop;
use sp_runtime::DispatchError;

fn set(who: AccountId, reputation: u8) -> sp_runtime::DispatchResult {
	Providers::set_reputation(RuntimeOrigin::root(), who, reputation)
}

#[test]
fn changes_the_reputation_weight_and_total_weight() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		register(ALICE, 250 * UNIT, &ms);
		register(BOB, MIN_STAKE, &ms);
		assert_ok!(set(ALICE, 100));
		assert_eq!(info(ALICE).reputation, 100);
		assert_eq!(info(ALICE).weight, 250 * 110);
		assert_eq!(TotalWeight::<Test>::get(), 250 * 110 + 100 * 10);
		assert_weights_consistent();
		assert_ok!(set(ALICE, 0));
		assert_eq!(TotalWeight::<Test>::get(), 250 * 10 + 100 * 10);
		assert_eq!(
			provider_events()[2..].to_vec(),
			vec![
				crate::Event::ReputationChanged { provider: ALICE, old: 0, new: 100 },
				crate::Event::ReputationChanged { provider: ALICE, old: 100, new: 0 },
			]
		);
	});
}

#[test]
fn an_unchanged_reputation_writes_nothing_and_emits_nothing() {
	new_test_ext().execute_with(|| {
		register(ALICE, MIN_STAKE, &models(1));
		let events = System::events().len();
		assert_ok!(set(ALICE, 0));
		assert_eq!(System::events().len(), events);
	});
}

#[test]
fn an_unbonding_provider_s_reputation_changes_without_touching_total_weight() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		register(ALICE, MIN_STAKE, &ms);
		register(BOB, MIN_STAKE, &ms);
		assert_ok!(Providers::unregister(signed(ALICE)));
		assert_ok!(set(ALICE, 50));
		assert_eq!(info(ALICE).weight, 100 * 60);
		assert_eq!(TotalWeight::<Test>::get(), 1_000);
		assert_weights_consistent();
	});
}

#[test]
fn needs_root_a_valid_reputation_and_a_provider_in_that_order() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Providers::set_reputation(signed(ALICE), ALICE, 101),
			DispatchError::BadOrigin
		);
		assert_noop!(set(ALICE, 101), Error::<Test>::InvalidReputation);
		assert_noop!(set(ALICE, 100), Error::<Test>::NotRegistered);
		register(ALICE, MIN_STAKE, &models(1));
		assert_noop!(set(ALICE, 255), Error::<Test>::InvalidReputation);
		assert_ok!(set(ALICE, 100));
	});
}
