//! Sampled results: the draw, the check and its deadline, verdicts passing and failing (with
//! slashing), overdue checks paid in `on_initialize`, and the rules of
//! `submit_direct_validations`.

use super::*;
use crate::{CheckTimeouts, DirectCheck, Error, Event};
use frame_support::{assert_noop, assert_ok};
use genai_primitives::protocol_random;

fn verdicts(items: &[(u64, bool)]) -> Vec<(codec::Compact<u64>, bool)> {
	items.iter().map(|(id, valid)| (codec::Compact(*id), *valid)).collect()
}

/// Alice's channel of 10,000 to Bob, one settled result of 50 sampled for Charlie; returns its
/// deadline.
fn one_sampled(w: &World) -> BlockNumber {
	open("Alice", &w.bob, 10_000);
	let mut tickets = Tickets::of("Alice", &w.bob);
	assert_ok!(ChannelsPallet::settle(
		signed(&w.bob),
		vec![tickets.sign(&[w.model], vec![plain(1)])]
	));
	System::block_number() + VALIDATION_PERIOD
}

#[test]
fn a_sampled_result_holds_its_cost_until_the_verdict() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		run_to(3);
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let r = plain(1);
		let run = tickets.sign(&[w.model], vec![r.clone()]);
		let (dave0, bob0) = (free(&w.dave), free(&w.bob));
		System::reset_events();
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![run]));
		let deadline = 3 + VALIDATION_PERIOD;
		assert_eq!(
			channel_events(),
			vec![
				Event::DirectSettled {
					direct_id: 0,
					requester: w.alice.clone(),
					executor: w.bob.clone(),
					nonce: 1,
					model_id: w.model,
					output_hash: r.output_hash,
					prompt_tokens: 10,
					completion_tokens: 40,
					cost: 50,
				},
				Event::DirectValidationRequested {
					direct_id: 0,
					validator: w.charlie.clone(),
					deadline
				},
			]
		);
		assert_eq!(
			DirectChecks::<Test>::get(0),
			Some(DirectCheck {
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				validator: w.charlie.clone(),
				model_id: w.model,
				model_version: 1,
				author: w.dave.clone(),
				author_share: sp_runtime::Permill::from_percent(10),
				currency_id: INFER,
				nonce: 1,
				ticket_hash: tickets.head,
				prompt_hash: r.prompt_hash,
				output_hash: r.output_hash,
				max_tokens: 64,
				prompt_tokens: 10,
				completion_tokens: 40,
				cost: 50,
				deadline,
			})
		);
		assert_eq!(CheckTimeouts::<Test>::get(deadline + 1).into_inner(), vec![0]);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.deposit, channel.held), (10_000, 50));
		assert_eq!((free(&w.dave), free(&w.bob)), (dave0, bob0));
		assert_invariants();
	});
}

#[test]
fn a_passed_verdict_pays_and_raises_the_reputation() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		one_sampled(&w);
		let (dave0, bob0) = (free(&w.dave), free(&w.bob));
		System::reset_events();
		assert_ok!(ChannelsPallet::submit_direct_validations(
			signed(&w.charlie),
			verdicts(&[(0, true)])
		));
		let events: Vec<RuntimeEvent> = all_events()
			.into_iter()
			.filter(|e| matches!(e, RuntimeEvent::Channels(_) | RuntimeEvent::Providers(_)))
			.collect();
		assert_eq!(
			events,
			vec![
				RuntimeEvent::Channels(Event::DirectPaid {
					direct_id: 0,
					author: w.dave.clone(),
					author_amount: 5,
					executor_amount: 45,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
					provider: w.bob.clone(),
					old: 0,
					new: 5,
				}),
				RuntimeEvent::Channels(Event::DirectValidationPassed {
					direct_id: 0,
					validator: w.charlie.clone(),
				}),
			]
		);
		assert_eq!((free(&w.dave) - dave0, free(&w.bob) - bob0), (5, 45));
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.deposit, channel.held), (10_000 - 50, 0));
		assert_eq!(reserved(&w.alice), 10_000 - 50);
		assert_eq!(DirectChecks::<Test>::get(0), None);
		assert_eq!(w.reputation(&w.bob), 5);
		assert_invariants();
		// Its deadline passes later without a second payment.
		run_to(40);
		assert_eq!(free(&w.bob) - bob0, 45);
		assert_noop!(
			ChannelsPallet::submit_direct_validations(signed(&w.charlie), verdicts(&[(0, true)])),
			Error::<Test>::UnknownCheck
		);
	});
}

#[test]
fn a_failed_verdict_slashes_and_the_requester_pays_nothing() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		w.set_reputation(&w.bob, 1); // sampled still (99.01 %), and the reset to 0 is an event
		one_sampled(&w);
		assert!(DirectChecks::<Test>::contains_key(0), "sampled at this parent hash");
		let (dave0, bob0) = (free(&w.dave), free(&w.bob));
		let bob_reserved = reserved(&w.bob);
		System::reset_events();
		assert_ok!(ChannelsPallet::submit_direct_validations(
			signed(&w.charlie),
			verdicts(&[(0, false)])
		));
		let slashed = MIN_STAKE / 10;
		let events: Vec<RuntimeEvent> = all_events()
			.into_iter()
			.filter(|e| matches!(e, RuntimeEvent::Channels(_) | RuntimeEvent::Providers(_)))
			.collect();
		assert_eq!(
			events,
			vec![
				RuntimeEvent::Providers(pallet_providers::Event::StakeSlashed {
					provider: w.bob.clone(),
					amount: slashed,
				}),
				RuntimeEvent::Providers(pallet_providers::Event::ReputationChanged {
					provider: w.bob.clone(),
					old: 1,
					new: 0,
				}),
				RuntimeEvent::Channels(Event::DirectValidationFailed {
					direct_id: 0,
					validator: w.charlie.clone(),
					slashed,
				}),
			]
		);
		assert_eq!((free(&w.dave), free(&w.bob)), (dave0, bob0));
		assert_eq!(reserved(&w.bob), bob_reserved - slashed);
		assert_eq!(w.stake(&w.bob), MIN_STAKE - slashed);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.deposit, channel.held), (10_000, 0));
		assert_eq!(reserved(&w.alice), 10_000);
		assert_eq!(DirectChecks::<Test>::get(0), None);
		assert_invariants();
		// Nothing happens at its deadline.
		run_to(40);
		assert_eq!((free(&w.dave), free(&w.bob)), (dave0, bob0));
	});
}

#[test]
fn verdict_rules() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		one_sampled(&w);
		assert_noop!(
			ChannelsPallet::submit_direct_validations(
				RuntimeOrigin::none(),
				verdicts(&[(0, true)])
			),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			ChannelsPallet::submit_direct_validations(signed(&w.charlie), verdicts(&[(9, true)])),
			Error::<Test>::UnknownCheck
		);
		assert_noop!(
			ChannelsPallet::submit_direct_validations(signed(&w.alice), verdicts(&[(0, true)])),
			Error::<Test>::NotValidator
		);
		// One bad verdict fails the batch: the good one before it is undone.
		assert_noop!(
			ChannelsPallet::submit_direct_validations(
				signed(&w.charlie),
				verdicts(&[(0, true), (9, true)])
			),
			Error::<Test>::UnknownCheck
		);
		// The same id twice: the second finds no check.
		assert_noop!(
			ChannelsPallet::submit_direct_validations(
				signed(&w.charlie),
				verdicts(&[(0, true), (0, false)])
			),
			Error::<Test>::UnknownCheck
		);
		assert_ok!(ChannelsPallet::submit_direct_validations(signed(&w.charlie), vec![]));
		// A pending check keeps the channel open.
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		run_to(1 + CLOSE_DELAY);
		assert_eq!(DirectChecks::<Test>::get(0), None, "paid at its deadline meanwhile");
	});
}

#[test]
fn withdraw_waits_for_pending_checks() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		open("Alice", &w.bob, 10_000);
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		run_to(CLOSE_DELAY - 5);
		let mut tickets = Tickets::of("Alice", &w.bob);
		assert_ok!(ChannelsPallet::settle(
			signed(&w.bob),
			vec![tickets.sign(&[w.model], vec![plain(1)])]
		));
		run_to(1 + CLOSE_DELAY);
		assert_noop!(
			ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()),
			Error::<Test>::ChecksPending
		);
		assert_ok!(ChannelsPallet::submit_direct_validations(
			signed(&w.charlie),
			verdicts(&[(0, false)])
		));
		assert_ok!(ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()));
		assert_eq!(reserved(&w.alice), 0);
	});
}

#[test]
fn an_overdue_check_is_paid_in_on_initialize_without_a_reputation_change() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		let deadline = one_sampled(&w);
		let bob0 = free(&w.bob);
		run_to(deadline);
		assert!(DirectChecks::<Test>::contains_key(0), "due after its deadline, not at it");
		System::reset_events();
		run_to(deadline + 1);
		// Tokens' own events besides (orml-tokens also emits `BalanceSet`).
		let events: Vec<RuntimeEvent> = all_events()
			.into_iter()
			.filter(|e| {
				matches!(
					e,
					RuntimeEvent::Channels(_)
						| RuntimeEvent::Providers(_)
						| RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated { .. })
				)
			})
			.collect();
		assert_eq!(
			events,
			vec![
				RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated {
					currency_id: INFER,
					from: w.alice.clone(),
					to: w.dave.clone(),
					amount: 5,
					status: frame_support::traits::BalanceStatus::Free,
				}),
				RuntimeEvent::Tokens(orml_tokens::Event::ReserveRepatriated {
					currency_id: INFER,
					from: w.alice.clone(),
					to: w.bob.clone(),
					amount: 45,
					status: frame_support::traits::BalanceStatus::Free,
				}),
				RuntimeEvent::Channels(Event::DirectPaid {
					direct_id: 0,
					author: w.dave.clone(),
					author_amount: 5,
					executor_amount: 45,
				}),
			]
		);
		assert_eq!(free(&w.bob) - bob0, 45);
		assert_eq!(w.reputation(&w.bob), 0);
		assert_eq!(DirectChecks::<Test>::get(0), None);
		assert!(!CheckTimeouts::<Test>::contains_key(deadline + 1));
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.deposit, channel.held), (10_000 - 50, 0));
		assert_invariants();
		assert_noop!(
			ChannelsPallet::submit_direct_validations(signed(&w.charlie), verdicts(&[(0, true)])),
			Error::<Test>::UnknownCheck
		);
	});
}

#[test]
fn checks_of_one_block_share_a_timeout_slot_up_to_its_bound() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		open("Alice", &w.bob, 1_000_000);
		let n = MAX_TIMEOUTS_PER_BLOCK as usize;
		let results: Vec<Result_> = (0..=n).map(|i| plain(i as u8)).collect();
		let over = Tickets::of("Alice", &w.bob).sign(&[w.model], results.clone());
		assert_noop!(
			ChannelsPallet::settle(signed(&w.bob), vec![over]),
			Error::<Test>::TooManyTimeouts
		);
		let full = Tickets::of("Alice", &w.bob).sign(&[w.model], results[..n].to_vec());
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![full]));
		let slot = 1 + VALIDATION_PERIOD + 1;
		assert_eq!(CheckTimeouts::<Test>::get(slot).len(), n);
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().held, 50 * n as u128);
		assert_invariants();
		run_to(slot);
		assert_eq!(DirectChecks::<Test>::iter().count(), 0);
		assert_eq!(
			Channels::<Test>::get(&w.alice, &w.bob).unwrap().deposit,
			1_000_000 - 50 * n as u128
		);
		assert_invariants();
	});
}

#[test]
fn sampling_follows_the_reputation_rule_over_direct_tags() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		w.set_reputation(&w.bob, 100);
		open("Alice", &w.bob, 1_000_000);
		run_to(5);
		let results: Vec<Result_> = (0..600).map(|i| plain(i as u8)).collect();
		let run = Tickets::of("Alice", &w.bob).sign(&[w.model], results);
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![run]));
		let seed = System::parent_hash();
		let mut sampled = 0;
		for direct_id in 0..600u64 {
			// validate iff r("direct/validate") mod 10^6 < 10^6 - 9_900 * 100.
			let drawn = protocol_random(b"direct/validate", &seed, direct_id) % 1_000_000 < 10_000;
			assert_eq!(DirectChecks::<Test>::contains_key(direct_id), drawn, "id {direct_id}");
			sampled += u32::from(drawn);
		}
		assert!(sampled > 0 && sampled < 30, "about 1 % sampled: {sampled}");
		assert_invariants();
	});
}

#[test]
fn the_validator_is_drawn_by_weight_among_the_others() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		// Eve validates too, with three times Charlie's stake: weights 100 * 10 and 300 * 10.
		register_provider_with_stake(&w.eve, &[w.model], 3 * MIN_STAKE);
		open("Alice", &w.bob, 1_000_000);
		run_to(4);
		let results: Vec<Result_> = (0..200).map(|i| plain(i as u8)).collect();
		let run = Tickets::of("Alice", &w.bob).sign(&[w.model], results);
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![run]));
		let seed = System::parent_hash();
		let (mut charlies, mut eves) = (0, 0);
		for direct_id in 0..200u64 {
			let check = DirectChecks::<Test>::get(direct_id).expect("reputation 0: all sampled");
			// Candidates in registration order (Charlie, Eve), walked by cumulative weight.
			let point = protocol_random(b"direct/validator", &seed, direct_id) % 4_000;
			let expected = if point < 1_000 { &w.charlie } else { &w.eve };
			assert_eq!(&check.validator, expected, "id {direct_id}");
			if check.validator == w.charlie {
				charlies += 1
			} else {
				eves += 1
			}
		}
		assert!(charlies > 20 && eves > 100, "{charlies} / {eves}");
	});
}

#[test]
fn neither_executor_nor_requester_validates() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		// Charlie, the only other provider, is the requester: nobody can validate, paid at once.
		open("Charlie", &w.bob, 10_000);
		let run = Tickets::of("Charlie", &w.bob).sign(&[w.model], vec![plain(1)]);
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![run]));
		assert_eq!(DirectChecks::<Test>::iter().count(), 0);
		assert!(channel_events()
			.iter()
			.any(|e| matches!(e, Event::DirectPaid { direct_id: 0, .. })));
		// An unbonding provider does not validate either.
		assert_ok!(ProvidersPallet::unregister(signed(&w.charlie)));
		open("Alice", &w.bob, 10_000);
		let run = Tickets::of("Alice", &w.bob).sign(&[w.model], vec![plain(2)]);
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![run]));
		assert_eq!(DirectChecks::<Test>::iter().count(), 0);
	});
}

#[test]
fn held_costs_count_against_the_deposit() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		open("Alice", &w.bob, 100);
		let mut tickets = Tickets::of("Alice", &w.bob);
		assert_ok!(ChannelsPallet::settle(
			signed(&w.bob),
			vec![tickets.sign(&[w.model], vec![plain(1)])]
		));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().held, 50);
		// 51 more would reach into the held 50.
		let over =
			Tickets::of("Alice", &w.bob).sign(&[w.model], vec![result(2, 51, 0, 8, 100, 30)]);
		assert_noop!(
			ChannelsPallet::settle(signed(&w.bob), vec![over]),
			Error::<Test>::InsufficientDeposit
		);
		let exact = tickets.sign(&[w.model], vec![result(2, 50, 0, 8, 100, 30)]);
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![exact]));
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.deposit, channel.held), (100, 100));
		assert_invariants();
		// A failed check frees its part for new results again.
		assert_ok!(ChannelsPallet::submit_direct_validations(
			signed(&w.charlie),
			verdicts(&[(0, false)])
		));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().held, 50);
		assert_invariants();
	});
}

#[test]
fn a_passed_verdict_caps_the_reputation_at_100() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		w.set_reputation(&w.bob, 98);
		open("Alice", &w.bob, 1_000_000);
		// At 98, 2.98 % of results are sampled: settle until one is.
		let mut tickets = Tickets::of("Alice", &w.bob);
		let results: Vec<Result_> = (0..200).map(|i| plain(i as u8)).collect();
		assert_ok!(ChannelsPallet::settle(signed(&w.bob), vec![tickets.sign(&[w.model], results)]));
		let id = DirectChecks::<Test>::iter_keys().next().expect("one of 200 sampled");
		assert_ok!(ChannelsPallet::submit_direct_validations(
			signed(&w.charlie),
			verdicts(&[(id, true)])
		));
		assert_eq!(w.reputation(&w.bob), 100);
	});
}
