//! `unregister` and `withdraw_unbonded`: leaving the lists and `TotalWeight`, the unbonding
//! period, in-flight work, and the stake coming back.

use super::*;
use crate::{Error, ModelProviders};
use frame_support::assert_noop;
use genai_primitives::ProviderRegistry;
use sp_runtime::DispatchError;

#[test]
fn unregister_leaves_every_list_and_the_total_weight() {
	new_test_ext().execute_with(|| {
		let ms = models(2);
		register(ALICE, 200 * UNIT, &ms);
		register(BOB, MIN_STAKE, &ms[..1]);
		System::set_block_number(4);
		assert_ok!(Providers::unregister(signed(ALICE)));
		let record = info(ALICE);
		assert_eq!(record.status, ProviderStatus::Unbonding { unlock_at: 4 + UNBONDING_PERIOD });
		// The weight stays on the record but no longer counts.
		assert_eq!(record.weight, 2_000);
		assert_eq!(TotalWeight::<Test>::get(), 1_000);
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![BOB]);
		assert!(!ModelProviders::<Test>::contains_key(ms[1]));
		assert_eq!(reserved(ALICE), 200 * UNIT);
		assert_weights_consistent();
		assert_eq!(
			provider_events().last(),
			Some(&crate::Event::ProviderUnbonding { provider: ALICE, unlock_at: 14 })
		);
	});
}

#[test]
fn unregister_needs_an_active_provider() {
	new_test_ext().execute_with(|| {
		assert_noop!(Providers::unregister(RuntimeOrigin::root()), DispatchError::BadOrigin);
		assert_noop!(Providers::unregister(signed(ALICE)), Error::<Test>::NotRegistered);
		register(ALICE, MIN_STAKE, &models(1));
		assert_ok!(Providers::unregister(signed(ALICE)));
		assert_noop!(Providers::unregister(signed(ALICE)), Error::<Test>::NotActive);
	});
}

#[test]
fn withdraw_unreserves_the_stake_and_deletes_the_record_after_the_period() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		register(ALICE, 150 * UNIT, &ms);
		register(BOB, MIN_STAKE, &ms);
		assert_ok!(Providers::unregister(signed(ALICE)));
		System::set_block_number(1 + UNBONDING_PERIOD - 1);
		assert_noop!(Providers::withdraw_unbonded(signed(ALICE)), Error::<Test>::StillUnbonding);
		System::set_block_number(1 + UNBONDING_PERIOD);
		assert_ok!(Providers::withdraw_unbonded(signed(ALICE)));
		assert!(!crate::Providers::<Test>::contains_key(ALICE));
		assert_eq!(reserved(ALICE), 0);
		assert_eq!(Tokens::free_balance(INFER, &ALICE), ENDOWMENT);
		assert_eq!(TotalWeight::<Test>::get(), 1_000);
		assert_weights_consistent();
		let events = all_events();
		let n = events.len();
		assert_eq!(
			events[n - 2],
			RuntimeEvent::Tokens(orml_tokens::Event::Unreserved {
				currency_id: INFER,
				who: ALICE,
				amount: 150 * UNIT
			})
		);
		assert_eq!(
			events[n - 1],
			RuntimeEvent::Providers(crate::Event::ProviderUnregistered {
				provider: ALICE,
				stake: 150 * UNIT
			})
		);
		// A withdrawn provider may register again, at the end of the lists.
		register(ALICE, MIN_STAKE, &ms);
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![BOB, ALICE]);
	});
}

#[test]
fn withdraw_checks_registration_status_period_and_in_flight_in_order() {
	new_test_ext().execute_with(|| {
		assert_noop!(Providers::withdraw_unbonded(RuntimeOrigin::root()), DispatchError::BadOrigin);
		assert_noop!(Providers::withdraw_unbonded(signed(ALICE)), Error::<Test>::NotRegistered);
		register(ALICE, MIN_STAKE, &models(1));
		assert_noop!(Providers::withdraw_unbonded(signed(ALICE)), Error::<Test>::NotUnbonding);
		assert_ok!(<Providers as ProviderRegistry<AccountId>>::acquire_slot(&ALICE));
		assert_ok!(Providers::unregister(signed(ALICE)));
		// StillUnbonding before RequestsInFlight.
		assert_noop!(Providers::withdraw_unbonded(signed(ALICE)), Error::<Test>::StillUnbonding);
		System::set_block_number(100);
		assert_noop!(Providers::withdraw_unbonded(signed(ALICE)), Error::<Test>::RequestsInFlight);
		// The in-flight request ends (an unbonding provider's slot is still released).
		<Providers as ProviderRegistry<AccountId>>::release_slot(&ALICE);
		assert_ok!(Providers::withdraw_unbonded(signed(ALICE)));
	});
}

#[test]
fn withdraw_returns_what_is_left_after_a_slash() {
	new_test_ext().execute_with(|| {
		register(ALICE, 200 * UNIT, &models(1));
		assert_ok!(Providers::unregister(signed(ALICE)));
		// Unbonding work can still be slashed; TotalWeight is not touched.
		assert_eq!(
			<Providers as ProviderRegistry<AccountId>>::slash_stake(&ALICE, 50 * UNIT),
			50 * UNIT
		);
		assert_eq!(info(ALICE).weight, 1_500);
		assert_eq!(TotalWeight::<Test>::get(), 0);
		System::set_block_number(1 + UNBONDING_PERIOD);
		assert_ok!(Providers::withdraw_unbonded(signed(ALICE)));
		assert_eq!(reserved(ALICE), 0);
		assert_eq!(Tokens::free_balance(INFER, &ALICE), ENDOWMENT - 50 * UNIT);
		assert_eq!(
			provider_events().last(),
			Some(&crate::Event::ProviderUnregistered { provider: ALICE, stake: 150 * UNIT })
		);
	});
}
