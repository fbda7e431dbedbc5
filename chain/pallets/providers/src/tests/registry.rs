//! `genai_primitives::ProviderRegistry`: what Inference and Channels read and change, with the
//! weight invariants across stake, reputation and status changes.

use super::*;
use crate::{Error, ModelProviders};
use frame_support::assert_noop;
use genai_primitives::{ProviderRegistry, ProviderSnapshot};

type Registry = Providers;

fn slash(who: AccountId, amount: Balance) -> Balance {
	<Registry as ProviderRegistry<AccountId>>::slash_stake(&who, amount)
}

fn set_reputation(who: AccountId, reputation: u8) {
	<Registry as ProviderRegistry<AccountId>>::set_reputation(&who, reputation)
}

#[test]
fn reads_the_provider_its_models_and_the_total_weight() {
	new_test_ext().execute_with(|| {
		let ms = models(2);
		assert_ok!(Providers::register_provider(
			signed(ALICE),
			300 * UNIT,
			ENDPOINT.to_vec(),
			ms.clone(),
			6,
			Some(KEY)
		));
		register(BOB, MIN_STAKE, &ms[1..]);
		assert_eq!(
			Registry::provider(&ALICE),
			Some(ProviderSnapshot {
				stake: 300 * UNIT,
				capacity: 6,
				in_flight: 0,
				reputation: 0,
				weight: 3_000,
				active: true,
				encryption_key: Some(KEY),
			})
		);
		assert_eq!(Registry::provider(&CHARLIE), None);
		assert_eq!(Registry::providers_of(&ms[0]), vec![ALICE]);
		assert_eq!(Registry::providers_of(&ms[1]), vec![ALICE, BOB]);
		assert_eq!(Registry::providers_of(&ModelId::repeat_byte(1)), Vec::<AccountId>::new());
		assert_eq!(Registry::total_weight(), 4_000);
		assert_ok!(Providers::unregister(signed(ALICE)));
		assert!(!Registry::provider(&ALICE).unwrap().active);
		assert_eq!(Registry::providers_of(&ms[1]), vec![BOB]);
		assert_eq!(Registry::total_weight(), 1_000);
	});
}

#[test]
fn slots_count_in_flight_requests() {
	new_test_ext().execute_with(|| {
		register(ALICE, MIN_STAKE, &models(1));
		assert_noop!(Registry::acquire_slot(&BOB), Error::<Test>::NotRegistered);
		assert_ok!(Registry::acquire_slot(&ALICE));
		assert_ok!(Registry::acquire_slot(&ALICE));
		assert_eq!(info(ALICE).in_flight, 2);
		Registry::release_slot(&ALICE);
		Registry::release_slot(&ALICE);
		Registry::release_slot(&ALICE);
		assert_eq!(info(ALICE).in_flight, 0);
		// Releasing for a non-provider is a no-op.
		Registry::release_slot(&BOB);
		assert!(!crate::Providers::<Test>::contains_key(BOB));
		assert_eq!(TotalWeight::<Test>::get(), 1_000);
		assert_weights_consistent();
		assert_eq!(provider_events().len(), 1);
	});
}

#[test]
fn set_reputation_clamps_skips_unchanged_and_ignores_non_providers() {
	new_test_ext().execute_with(|| {
		register(ALICE, MIN_STAKE, &models(1));
		set_reputation(ALICE, 200);
		assert_eq!(info(ALICE).reputation, 100);
		assert_eq!(TotalWeight::<Test>::get(), 100 * 110);
		set_reputation(ALICE, 100);
		set_reputation(BOB, 5);
		assert!(!crate::Providers::<Test>::contains_key(BOB));
		set_reputation(ALICE, 3);
		assert_eq!(TotalWeight::<Test>::get(), 100 * 13);
		assert_weights_consistent();
		assert_eq!(
			provider_events()[1..].to_vec(),
			vec![
				crate::Event::ReputationChanged { provider: ALICE, old: 0, new: 100 },
				crate::Event::ReputationChanged { provider: ALICE, old: 100, new: 3 },
			]
		);
	});
}

#[test]
fn slash_burns_reserved_stake_and_lowers_the_weight() {
	new_test_ext().execute_with(|| {
		let ms = models(1);
		register(ALICE, 200 * UNIT, &ms);
		register(BOB, MIN_STAKE, &ms);
		set_reputation(ALICE, 10);
		let issuance = Tokens::total_issuance(INFER);
		// 50.5 units slashed: the weight uses whole stake units.
		assert_eq!(slash(ALICE, 50 * UNIT + UNIT / 2), 50 * UNIT + UNIT / 2);
		let record = info(ALICE);
		assert_eq!(record.stake, 149 * UNIT + UNIT / 2);
		assert_eq!(record.weight, 149 * 20);
		assert_eq!(reserved(ALICE), 149 * UNIT + UNIT / 2);
		assert_eq!(Tokens::total_issuance(INFER), issuance - 50 * UNIT - UNIT / 2);
		assert_eq!(TotalWeight::<Test>::get(), 149 * 20 + 1_000);
		assert_weights_consistent();
		// Tokens' Slashed first, then StakeSlashed.
		let events = all_events();
		let n = events.len();
		assert_eq!(
			events[n - 2],
			RuntimeEvent::Tokens(orml_tokens::Event::Slashed {
				currency_id: INFER,
				who: ALICE,
				free_amount: 0,
				reserved_amount: 50 * UNIT + UNIT / 2
			})
		);
		assert_eq!(
			events[n - 1],
			RuntimeEvent::Providers(crate::Event::StakeSlashed {
				provider: ALICE,
				amount: 50 * UNIT + UNIT / 2
			})
		);
		// The provider stays listed and active, below the minimum stake too.
		assert_eq!(ModelProviders::<Test>::get(ms[0]).into_inner(), vec![ALICE, BOB]);
	});
}

#[test]
fn slash_takes_at_most_the_stake() {
	new_test_ext().execute_with(|| {
		register(ALICE, MIN_STAKE, &models(1));
		assert_eq!(slash(ALICE, 10 * MIN_STAKE), MIN_STAKE);
		assert_eq!(info(ALICE).stake, 0);
		assert_eq!(info(ALICE).weight, 0);
		assert_eq!(reserved(ALICE), 0);
		assert_eq!(Tokens::free_balance(INFER, &ALICE), ENDOWMENT - MIN_STAKE);
		assert_eq!(TotalWeight::<Test>::get(), 0);
		assert_weights_consistent();
		// Nothing left: 0 slashed, still reported (as devnode does). Real orml-tokens emits no
		// `Slashed` for a zero amount (devnode's Tokens emits one with 0): the last event is ours.
		let before = System::events().len();
		assert_eq!(slash(ALICE, 1), 0);
		assert_eq!(System::events().len(), before + 1);
		assert_eq!(
			provider_events().last(),
			Some(&crate::Event::StakeSlashed { provider: ALICE, amount: 0 })
		);
		// Withdrawing a fully slashed stake unreserves nothing: orml emits no `Unreserved` then.
		assert_ok!(Providers::unregister(signed(ALICE)));
		System::set_block_number(1 + UNBONDING_PERIOD);
		let before = System::events().len();
		assert_ok!(Providers::withdraw_unbonded(signed(ALICE)));
		assert_eq!(
			all_events()[before..].to_vec(),
			vec![RuntimeEvent::Providers(crate::Event::ProviderUnregistered {
				provider: ALICE,
				stake: 0
			})]
		);
	});
}

#[test]
fn slash_only_touches_the_stake_not_other_reserves() {
	new_test_ext().execute_with(|| {
		register(ALICE, MIN_STAKE, &models(1));
		// Another reserve of Alice's in the stake currency (an Inference escrow, say).
		assert_ok!(<Tokens as MultiReservableCurrency<AccountId>>::reserve(
			INFER,
			&ALICE,
			5 * UNIT
		));
		assert_eq!(slash(ALICE, 2 * MIN_STAKE), MIN_STAKE);
		assert_eq!(reserved(ALICE), 5 * UNIT);
	});
}

#[test]
fn slash_of_a_non_provider_is_zero_without_an_event() {
	new_test_ext().execute_with(|| {
		let events = System::events().len();
		assert_eq!(slash(BOB, UNIT), 0);
		assert_eq!(System::events().len(), events);
		assert!(!crate::Providers::<Test>::contains_key(BOB));
	});
}

#[test]
fn total_weight_follows_every_change_of_a_mixed_population() {
	new_test_ext().execute_with(|| {
		let ms = models(3);
		let people: Vec<AccountId> = (FIRST_EXTRA..FIRST_EXTRA + 12).collect();
		for (i, who) in people.iter().enumerate() {
			let stake = MIN_STAKE + (i as Balance) * 37 * UNIT + (i as Balance) * 1_000;
			register(*who, stake, &ms[i % 3..]);
			assert_weights_consistent();
		}
		for (i, who) in people.iter().enumerate() {
			match i % 4 {
				0 => {
					assert_ok!(Providers::set_reputation(RuntimeOrigin::root(), *who, 77));
				},
				1 => {
					slash(*who, 33 * UNIT + 5);
				},
				2 => {
					assert_ok!(Providers::unregister(signed(*who)));
				},
				_ => set_reputation(*who, 250),
			}
			assert_weights_consistent();
		}
		// Unbonding providers change too, without counting.
		for who in people.iter().skip(2).step_by(4) {
			set_reputation(*who, 42);
			slash(*who, UNIT);
			assert_weights_consistent();
		}
		System::set_block_number(1 + UNBONDING_PERIOD);
		for who in people.iter().skip(2).step_by(4) {
			assert_ok!(Providers::withdraw_unbonded(signed(*who)));
			assert_weights_consistent();
		}
		for who in people.iter().step_by(4) {
			assert_ok!(Providers::unregister(signed(*who)));
			assert_weights_consistent();
		}
		assert!(TotalWeight::<Test>::get() > 0);
	});
}
