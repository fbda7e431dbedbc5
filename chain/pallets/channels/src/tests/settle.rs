//! `settle`: runs of tickets under one signature, paid at once when nobody validates, the cost
//! rule, the chain's replay and gap rules, expired and unserved tickets, and every error in
//! devnode's order.

use super::*;
use crate::{Error, Event, NextDirectId};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

fn settle(executor: &AccountId, settlements: Vec<Settlement>) -> sp_runtime::DispatchResult {
	ChannelsPallet::settle(signed(executor), settlements)
}

#[test]
fn a_run_settles_with_one_signature_and_is_paid_at_once() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let (author0, bob0) = (free(&w.dave), free(&w.bob));
		let results = vec![
			result(1, 10, 40, 64, 100, 30), // cost 50
			result(2, 5, 20, 64, 100, 30),  // cost 25
			result(3, 100, 64, 64, 90, 30), // 164 tokens, capped at max_amount 90
		];
		let settlement = tickets.sign(&[w.model], results.clone());
		System::reset_events();
		assert_ok!(settle(&w.bob, vec![settlement]));

		let costs = [50u128, 25, 90];
		let mut expected = Vec::new();
		for (i, (r, cost)) in results.iter().zip(costs).enumerate() {
			let direct_id = i as u64;
			expected.push(Event::DirectSettled {
				direct_id,
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				nonce: direct_id + 1,
				model_id: w.model,
				output_hash: r.output_hash,
				prompt_tokens: r.prompt_tokens,
				completion_tokens: r.completion_tokens,
				cost,
			});
			// 10 % to the author, rounded down; the rest to the executor.
			expected.push(Event::DirectPaid {
				direct_id,
				author: w.dave.clone(),
				author_amount: cost / 10,
				executor_amount: cost - cost / 10,
			});
		}
		assert_eq!(channel_events(), expected);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!(channel.nonce, 3);
		assert_eq!(channel.head, tickets.head);
		assert_eq!(channel.settled_cumulative, 290);
		assert_eq!((channel.deposit, channel.held), (10_000 - 165, 0));
		assert_eq!(reserved(&w.alice), 10_000 - 165);
		assert_eq!(free(&w.dave) - author0, 5 + 2 + 9);
		assert_eq!(free(&w.bob) - bob0, 45 + 23 + 81);
		assert_eq!(NextDirectId::<Test>::get(), 3);
		assert_invariants();

		// The next run chains on the stored head.
		let next = tickets.sign(&[w.model], vec![plain(4), plain(5)]);
		assert_eq!(next.first_nonce, 4);
		assert_ok!(settle(&w.bob, vec![next]));
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.nonce, channel.head), (5, tickets.head));
		assert_invariants();
	});
}

#[test]
fn the_cost_rounds_up_per_result() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		let odd = register_model(&w.dave, 9, 1_001, INFER);
		assert_ok!(ProvidersPallet::update_provider(
			signed(&w.bob),
			b"http://127.0.0.1:8000".to_vec(),
			vec![w.model, odd],
			8,
			None
		));
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let mut r = result(1, 3, 7, 64, 1_000, 30);
		r.max_price_per_1k_tokens = 1_001;
		// 10 tokens at 1.001 = 10.01: 11.
		assert_ok!(settle(&w.bob, vec![tickets.sign(&[odd], vec![r])]));
		assert!(channel_events().contains(&Event::DirectPaid {
			direct_id: 0,
			author: w.dave.clone(),
			author_amount: 1,
			executor_amount: 10,
		}));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().deposit, 10_000 - 11);
	});
}

#[test]
fn the_cost_rule_in_wide_integers() {
	// min(max_amount, ceil(tokens * price / 1000)), also past u128 in the product.
	assert_eq!(ChannelsPallet::cost_of(1, 1, 100), 1);
	assert_eq!(ChannelsPallet::cost_of(1_000, 1, 100), 1);
	assert_eq!(ChannelsPallet::cost_of(1_001, 1, 100), 2);
	assert_eq!(ChannelsPallet::cost_of(50, 1_000, 30), 30);
	assert_eq!(ChannelsPallet::cost_of(u64::MAX, u128::MAX, 77), 77);
	// Past u128 in the product: above any max_amount, so the cap.
	assert_eq!(ChannelsPallet::cost_of(3, u128::MAX / 2, u128::MAX), u128::MAX);
	assert_eq!(
		ChannelsPallet::cost_of(2, u128::MAX / 2, u128::MAX),
		(u128::MAX / 2) * 2 / 1000 + 1
	);
}

#[test]
fn a_settled_ticket_never_settles_again_and_none_is_skipped() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let run = tickets.sign(&[w.model], vec![plain(1), plain(2)]);
		assert_ok!(settle(&w.bob, vec![run.clone()]));
		assert_noop!(settle(&w.bob, vec![run]), Error::<Test>::TicketReplayed);
		// A run starting inside the settled part: replayed too.
		let mut overlap = Tickets::of("Alice", &w.bob);
		overlap.nonce = 1;
		let overlapping = overlap.sign(&[w.model], vec![plain(3)]);
		assert_noop!(settle(&w.bob, vec![overlapping]), Error::<Test>::TicketReplayed);
		// Skipping ticket 3: a gap.
		let mut ahead = Tickets::of("Alice", &w.bob);
		ahead.nonce = 3;
		let gapped = ahead.sign(&[w.model], vec![plain(4)]);
		assert_eq!(gapped.first_nonce, 4);
		assert_noop!(settle(&w.bob, vec![gapped]), Error::<Test>::TicketGap);
		// The honest next run still settles.
		assert_ok!(settle(&w.bob, vec![tickets.sign(&[w.model], vec![plain(3)])]));
	});
}

#[test]
fn call_level_rules() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		assert_noop!(
			ChannelsPallet::settle(RuntimeOrigin::none(), vec![]),
			DispatchError::BadOrigin
		);
		assert_noop!(settle(&w.bob, vec![]), Error::<Test>::EmptySettlement);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let empty = tickets.sign(&[w.model], vec![]);
		assert_noop!(
			settle(&w.bob, vec![empty.clone(), empty.clone()]),
			Error::<Test>::EmptySettlement
		);
		// Counted over all settlements, before any signature is looked at.
		let many = |n: usize| Settlement {
			requester: w.alice.clone(),
			first_nonce: 1,
			models: vec![w.model],
			results: vec![plain(1); n],
			signature: [0; 64],
		};
		assert_noop!(
			settle(&w.bob, vec![many(1_000), many(MAX_RESULTS_PER_SETTLE as usize - 999)]),
			Error::<Test>::TooManyResults
		);
		// EmptySettlement and TooManyResults come before the executor is looked up.
		assert_noop!(settle(&w.ferdie, vec![]), Error::<Test>::EmptySettlement);
		assert_noop!(settle(&w.ferdie, vec![many(1)]), Error::<Test>::NotProvider);
		// An empty settlement next to a real one is skipped, even for a channel that is not there.
		let mut ghost = empty.clone();
		ghost.requester = w.ferdie.clone();
		assert_ok!(settle(&w.bob, vec![ghost, tickets.sign(&[w.model], vec![plain(1)])]));
	});
}

#[test]
fn run_level_rules_in_devnodes_order() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		run_to(10);
		let fresh = || Tickets::of("Alice", &w.bob);
		assert_noop!(
			settle(
				&w.bob,
				vec![Tickets { requester: w.eve.clone(), seed: "Eve", ..fresh() }
					.sign(&[w.model], vec![plain(1)])]
			),
			Error::<Test>::NoChannel
		);
		// An executor that is not a provider (devnode checks it; the spec does not list it).
		assert_noop!(
			settle(&w.charlie, vec![fresh().sign(&[w.model], vec![plain(1)])]),
			Error::<Test>::NotProvider
		);
		let models: Vec<ModelId> = (0..=MAX_MODELS_PER_SETTLEMENT).map(|_| w.model).collect();
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&models, vec![plain(1)])]),
			Error::<Test>::TooManyModels
		);
		let unknown = H256::repeat_byte(0xee);
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.model, unknown], vec![plain(1)])]),
			Error::<Test>::UnknownModel
		);
		// UnknownModel before BadModelIndex (devnode's order; the spec lists BadModelIndex first).
		let mut bad_index = fresh().sign(&[w.model, unknown], vec![plain(1)]);
		bad_index.results[0].model_index = 2;
		assert_noop!(settle(&w.bob, vec![bad_index.clone()]), Error::<Test>::UnknownModel);
		bad_index.models = vec![w.model];
		assert_noop!(settle(&w.bob, vec![bad_index]), Error::<Test>::BadModelIndex);
		// The last (signed) ticket expired: the whole run is refused.
		let expired = fresh().sign(&[w.model], vec![plain(1), result(2, 1, 1, 8, 10, 9)]);
		assert_noop!(settle(&w.bob, vec![expired]), Error::<Test>::TicketExpired);
		// expiry == now is still good.
		let mut at_now = fresh();
		let run = at_now.sign(&[w.model], vec![result(2, 1, 1, 8, 10, 10)]);
		// Signed by someone else, or any signed term changed: BadTicketSignature.
		let mut eves = run.clone();
		eves.signature = sign_ticket("Eve", at_now.head);
		assert_noop!(settle(&w.bob, vec![eves]), Error::<Test>::BadTicketSignature);
		let mut tampered = run.clone();
		tampered.results[0].max_amount += 1;
		assert_noop!(settle(&w.bob, vec![tampered]), Error::<Test>::BadTicketSignature);
		let mut retargeted = run.clone();
		retargeted.results[0].prompt_hash = H256::repeat_byte(0x99);
		assert_noop!(settle(&w.bob, vec![retargeted]), Error::<Test>::BadTicketSignature);
		assert_ok!(settle(&w.bob, vec![run]));
	});
}

#[test]
fn result_level_rules_in_devnodes_order() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		run_to(10);
		let fresh = || Tickets::of("Alice", &w.bob);
		let latest = 10 + MAX_TICKET_LIFE + CLOSE_DELAY;
		// ExpiryTooFar for any result, even one before a good last ticket.
		let far = fresh().sign(&[w.model], vec![result(1, 1, 1, 8, 10, latest + 1), plain(2)]);
		assert_noop!(settle(&w.bob, vec![far]), Error::<Test>::ExpiryTooFar);
		assert_ok!(settle(
			&w.bob,
			vec![fresh().sign(&[w.model], vec![result(1, 1, 1, 8, 10, latest)])]
		));

		let mut cheap = plain(2);
		cheap.max_price_per_1k_tokens = PRICE; // the pricey model costs 2 * PRICE
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.pricey_model], vec![cheap])]),
			Error::<Test>::PriceAboveMaximum
		);
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.model], vec![result(2, 1, 9, 8, 10, 30)])]),
			Error::<Test>::InvalidTokenCount
		);
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.usdd_model], vec![plain(2)])]),
			Error::<Test>::CurrencyMismatch
		);
		// PriceAboveMaximum before InvalidTokenCount before CurrencyMismatch.
		let mut all_wrong = result(2, 1, 9, 8, 10, 30);
		all_wrong.max_price_per_1k_tokens = 1;
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.usdd_model], vec![all_wrong.clone()])]),
			Error::<Test>::PriceAboveMaximum
		);
		all_wrong.max_price_per_1k_tokens = PRICE;
		assert_noop!(
			settle(&w.bob, vec![fresh().sign(&[w.usdd_model], vec![all_wrong])]),
			Error::<Test>::InvalidTokenCount
		);
		// More than the deposit covers: the whole call fails, earlier results included.
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		let left = (channel.deposit - channel.held) as u32;
		let too_much =
			fresh().sign(&[w.model], vec![plain(3), result(4, left, 0, 8, u128::MAX / 4, 30)]);
		assert_noop!(settle(&w.bob, vec![too_much]), Error::<Test>::InsufficientDeposit);
		let exactly = fresh().sign(&[w.model], vec![result(4, left, 0, 8, u128::MAX / 4, 30)]);
		assert_ok!(settle(&w.bob, vec![exactly]));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().deposit, 0);
		assert_invariants();
	});
}

#[test]
fn an_expired_ticket_is_not_paid_and_the_chain_moves_on() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		run_to(10);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let old = result(1, 10, 40, 64, 100, 9);
		// An expired ticket is skipped before its price or token checks.
		let mut old_and_wrong = result(2, 10, 99, 64, 100, 9);
		old_and_wrong.max_price_per_1k_tokens = 0;
		let run = tickets.sign(&[w.model], vec![old, old_and_wrong, plain(3)]);
		System::reset_events();
		assert_ok!(settle(&w.bob, vec![run]));
		let events = channel_events();
		assert_eq!(
			events[..2],
			[
				Event::TicketExpired {
					requester: w.alice.clone(),
					executor: w.bob.clone(),
					nonce: 1
				},
				Event::TicketExpired {
					requester: w.alice.clone(),
					executor: w.bob.clone(),
					nonce: 2
				},
			]
		);
		assert!(matches!(events[2], Event::DirectSettled { direct_id: 0, nonce: 3, cost: 50, .. }));
		assert!(matches!(events[3], Event::DirectPaid { direct_id: 0, .. }));
		assert_eq!(events.len(), 4);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.nonce, channel.settled_cumulative), (3, 300));
		assert_eq!(channel.deposit, 10_000 - 50);
		assert_eq!(NextDirectId::<Test>::get(), 1);
	});
}

#[test]
fn an_unserved_ticket_keeps_the_chain_whole_and_costs_nothing() {
	new_test_ext().execute_with(|| {
		let w = World::with_validator();
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		// Zero tokens: no deposit question (max_amount above the deposit), no id, no check.
		let unserved = result(1, 0, 0, 64, u128::MAX / 2, 30);
		let run = tickets.sign(&[w.model], vec![unserved]);
		System::reset_events();
		assert_ok!(settle(&w.bob, vec![run]));
		assert_eq!(channel_events(), vec![]);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.nonce, channel.deposit, channel.held), (1, 10_000, 0));
		assert_eq!(channel.settled_cumulative, u128::MAX / 2);
		assert_eq!(NextDirectId::<Test>::get(), 0);
		// An unserved ticket still must pass the price, token and currency checks (devnode's
		// order: they come before the zero-token rule).
		let mut wrong = result(2, 0, 0, 64, 10, 30);
		wrong.max_price_per_1k_tokens = 0;
		assert_noop!(
			settle(&w.bob, vec![Tickets::of("Alice", &w.bob).sign(&[w.model], vec![wrong])]),
			Error::<Test>::PriceAboveMaximum
		);
		let other_currency = result(2, 0, 0, 64, 10, 30);
		assert_noop!(
			settle(
				&w.bob,
				vec![Tickets::of("Alice", &w.bob).sign(&[w.usdd_model], vec![other_currency])]
			),
			Error::<Test>::CurrencyMismatch
		);
	});
}

#[test]
fn several_channels_settle_in_one_call_and_fail_together() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		open("Eve", &w.bob, 10_000);
		let mut alices = Tickets::of("Alice", &w.bob);
		let mut eves = Tickets::of("Eve", &w.bob);
		let a = alices.sign(&[w.model], vec![plain(1)]);
		let e = eves.sign(&[w.model], vec![plain(2), plain(3)]);
		// Eve's run replayed after Alice's good one: nothing of the call stays.
		assert_ok!(settle(&w.bob, vec![e.clone()]));
		assert_noop!(settle(&w.bob, vec![a.clone(), e]), Error::<Test>::TicketReplayed);
		let e2 = eves.sign(&[w.model], vec![plain(4)]);
		assert_ok!(settle(&w.bob, vec![a, e2]));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().nonce, 1);
		assert_eq!(Channels::<Test>::get(&w.eve, &w.bob).unwrap().nonce, 3);
		assert_eq!(NextDirectId::<Test>::get(), 4);
		assert_invariants();
	});
}

#[test]
fn a_closing_channel_still_settles() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Alice", &w.bob, 10_000);
		let mut tickets = Tickets::of("Alice", &w.bob);
		let run = tickets.sign(&[w.model], vec![plain(1)]);
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		assert_ok!(settle(&w.bob, vec![run]));
		run_to(1 + CLOSE_DELAY);
		assert_ok!(ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()));
		assert_eq!(reserved(&w.alice), 0);
		assert!(channel_events().contains(&Event::ChannelWithdrawn {
			requester: w.alice.clone(),
			executor: w.bob.clone(),
			amount: 10_000 - 50,
		}));
	});
}
