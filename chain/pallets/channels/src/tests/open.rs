//! `open_channel`, `close_channel`, `withdraw`: records, reserves, events, and every error in
//! devnode's order.

use super::*;
use crate::{Channel, Error, Event, NextChannelId};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

#[test]
fn opening_reserves_the_deposit_and_starts_the_chain_at_the_genesis_head() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		let before = free(&w.alice);
		assert_ok!(ChannelsPallet::open_channel(signed(&w.alice), w.bob.clone(), INFER, 5_000));
		assert_eq!(
			Channels::<Test>::get(&w.alice, &w.bob),
			Some(Channel {
				id: 0,
				currency_id: INFER,
				deposit: 5_000,
				held: 0,
				nonce: 0,
				head: ChannelsPallet::channel_genesis(0),
				settled_cumulative: 0,
				closing_at: None,
			})
		);
		assert_eq!(NextChannelId::<Test>::get(), 1);
		assert_eq!((free(&w.alice), reserved(&w.alice)), (before - 5_000, 5_000));
		assert_eq!(
			channel_events(),
			vec![Event::ChannelFunded {
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				channel_id: 0,
				amount: 5_000,
				deposit: 5_000,
			}]
		);
		// Tokens' own event precedes it.
		let reserved_at = all_events()
			.iter()
			.position(|e| matches!(e, RuntimeEvent::Tokens(orml_tokens::Event::Reserved { .. })))
			.unwrap();
		let funded_at = all_events()
			.iter()
			.position(|e| matches!(e, RuntimeEvent::Channels(Event::ChannelFunded { .. })))
			.unwrap();
		assert!(reserved_at < funded_at);
	});
}

#[test]
fn topping_up_adds_to_the_deposit_and_keeps_the_id() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		open("Eve", &w.bob, 1_000);
		open("Alice", &w.bob, 2_000);
		open("Alice", &w.bob, 3_000);
		let channel = Channels::<Test>::get(&w.alice, &w.bob).unwrap();
		assert_eq!((channel.id, channel.deposit), (1, 5_000));
		assert_eq!(channel.head, ChannelsPallet::channel_genesis(1));
		assert_eq!(Channels::<Test>::get(&w.eve, &w.bob).unwrap().id, 0);
		assert_eq!(NextChannelId::<Test>::get(), 2);
		assert_eq!(reserved(&w.alice), 5_000);
		assert_eq!(
			channel_events().last(),
			Some(&Event::ChannelFunded {
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				channel_id: 1,
				amount: 3_000,
				deposit: 5_000,
			})
		);
	});
}

#[test]
fn open_channel_rules_in_devnodes_order() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		let open_as = |who: &AccountId, executor: &AccountId, currency, amount| {
			ChannelsPallet::open_channel(signed(who), executor.clone(), currency, amount)
		};
		assert_noop!(
			ChannelsPallet::open_channel(RuntimeOrigin::none(), w.bob.clone(), INFER, 1),
			DispatchError::BadOrigin
		);
		// ZeroAmount first, even to oneself or a non-provider.
		assert_noop!(open_as(&w.ferdie, &w.ferdie, INFER, 0), Error::<Test>::ZeroAmount);
		// SelfChannel before NotProvider (devnode's order; the spec lists NotProvider first).
		assert_noop!(open_as(&w.ferdie, &w.ferdie, INFER, 1), Error::<Test>::SelfChannel);
		assert_noop!(open_as(&w.bob, &w.bob, INFER, 1), Error::<Test>::SelfChannel);
		assert_noop!(open_as(&w.alice, &w.ferdie, INFER, 1), Error::<Test>::NotProvider);
		// Tokens' error for more than the free balance; nothing is written (not even the id).
		assert_noop!(
			open_as(&w.alice, &w.bob, INFER, ENDOWMENT + 1),
			orml_tokens::Error::<Test>::BalanceTooLow
		);
		assert_eq!(NextChannelId::<Test>::get(), 0);
		open("Alice", &w.bob, 1_000);
		assert_noop!(open_as(&w.alice, &w.bob, USDD, 1), Error::<Test>::CurrencyMismatch);
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		// CurrencyMismatch before ChannelClosing.
		assert_noop!(open_as(&w.alice, &w.bob, USDD, 1), Error::<Test>::CurrencyMismatch);
		assert_noop!(open_as(&w.alice, &w.bob, INFER, 1), Error::<Test>::ChannelClosing);
	});
}

#[test]
fn an_unbonding_provider_takes_no_new_channel() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		assert_ok!(ProvidersPallet::unregister(signed(&w.bob)));
		assert_noop!(
			ChannelsPallet::open_channel(signed(&w.alice), w.bob.clone(), INFER, 1),
			Error::<Test>::NotProvider
		);
	});
}

#[test]
fn a_channel_in_another_currency() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		assert_ok!(ChannelsPallet::open_channel(signed(&w.alice), w.bob.clone(), USDD, 700));
		assert_eq!(Tokens::reserved_balance(USDD, &w.alice), 700);
		assert_eq!(reserved(&w.alice), 0);
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().currency_id, USDD);
	});
}

#[test]
fn close_channel_sets_closing_at_once() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		assert_noop!(
			ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()),
			Error::<Test>::NoChannel
		);
		open("Alice", &w.bob, 1_000);
		run_to(7);
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		assert_eq!(
			Channels::<Test>::get(&w.alice, &w.bob).unwrap().closing_at,
			Some(7 + CLOSE_DELAY)
		);
		assert_eq!(
			channel_events().last(),
			Some(&Event::ChannelClosing {
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				closes_at: 7 + CLOSE_DELAY,
			})
		);
		assert_noop!(
			ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()),
			Error::<Test>::AlreadyClosing
		);
		// Only the requester's own channel: Bob has none to Alice.
		assert_noop!(
			ChannelsPallet::close_channel(signed(&w.bob), w.alice.clone()),
			Error::<Test>::NoChannel
		);
	});
}

#[test]
fn withdraw_after_the_close_delay_returns_the_deposit() {
	new_test_ext().execute_with(|| {
		let w = World::new();
		assert_noop!(
			ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()),
			Error::<Test>::NoChannel
		);
		let before = free(&w.alice);
		open("Alice", &w.bob, 1_000);
		assert_noop!(
			ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()),
			Error::<Test>::NotClosing
		);
		assert_ok!(ChannelsPallet::close_channel(signed(&w.alice), w.bob.clone()));
		run_to(CLOSE_DELAY);
		assert_noop!(
			ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()),
			Error::<Test>::StillClosing
		);
		run_to(1 + CLOSE_DELAY);
		assert_ok!(ChannelsPallet::withdraw(signed(&w.alice), w.bob.clone()));
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob), None);
		assert_eq!((free(&w.alice), reserved(&w.alice)), (before, 0));
		assert_eq!(
			channel_events().last(),
			Some(&Event::ChannelWithdrawn {
				requester: w.alice.clone(),
				executor: w.bob.clone(),
				amount: 1_000,
			})
		);
		// A new channel afterwards gets a new id (and a new genesis head).
		open("Alice", &w.bob, 10);
		assert_eq!(Channels::<Test>::get(&w.alice, &w.bob).unwrap().id, 1);
	});
}
