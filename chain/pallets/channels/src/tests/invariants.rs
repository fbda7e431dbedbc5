//! The spec's invariants over seeded random call sequences: per channel `held <= deposit` and
//! `held` = the open checks' cost, the requester's reserve = its deposits, a settled nonce never
//! settles again, and exactly one of `DirectPaid` / `DirectValidationFailed` follows each
//! `DirectSettled` (none follows `TicketExpired`).

use super::*;
use crate::Event;
use std::collections::BTreeMap;

/// xorshift64: a fixed, seedable sequence.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 << 13;
		self.0 ^= self.0 >> 7;
		self.0 ^= self.0 << 17;
		self.0
	}
	fn below(&mut self, n: u64) -> u64 {
		self.next() % n
	}
}

const REQUESTERS: [&str; 2] = ["Alice", "Eve"];

fn random_run(rng: &mut Rng, w: &World, seed: &'static str, executor: &AccountId) -> Settlement {
	let mut tickets = Tickets::of(seed, executor);
	let now = System::block_number();
	let models = [w.model, w.pricey_model];
	let results = (0..1 + rng.below(5))
		.map(|i| {
			let max_tokens = 8 + rng.below(56) as u32;
			let completion = rng.below(u64::from(max_tokens) + 1) as u32;
			let prompt = if rng.below(8) == 0 { 0 } else { rng.below(40) as u32 };
			let completion = if prompt == 0 { 0 } else { completion };
			// Mostly live tickets, some already expired (never the last one: that fails the run).
			let expiry = if rng.below(6) == 0 {
				now.saturating_sub(1 + rng.below(3) as u32)
			} else {
				now + 1 + rng.below(90) as u32
			};
			let mut r = result(
				i as u8,
				prompt,
				completion,
				max_tokens,
				1 + u128::from(rng.below(300)),
				expiry,
			);
			r.model_index = rng.below(2) as u32;
			r.max_price_per_1k_tokens = 2 * PRICE;
			r
		})
		.collect::<Vec<_>>();
	let mut results = results;
	if let Some(last) = results.last_mut() {
		last.expiry = last.expiry.max(now);
	}
	tickets.sign(&models, results)
}

#[test]
fn random_sequences_keep_the_invariants() {
	// sr25519 in a debug build dominates the time: two seeds of 150 steps.
	for seed in [7u64, 1234] {
		new_test_ext().execute_with(|| run_sequence(seed, 150));
	}
}

fn run_sequence(seed: u64, steps: usize) {
	let w = World::with_validator();
	let executors = [w.bob.clone(), w.charlie.clone()];
	let mut rng = Rng(seed);
	let mut settled_nonces = BTreeMap::<(AccountId, AccountId), u64>::new();
	for _ in 0..steps {
		let requester_seed = REQUESTERS[rng.below(2) as usize];
		let requester = account(requester_seed);
		let executor = executors[rng.below(2) as usize].clone();
		match rng.below(10) {
			0 | 1 => {
				let amount = 1 + u128::from(rng.below(3_000));
				let _ = ChannelsPallet::open_channel(signed(&requester), executor, INFER, amount);
			},
			2..=4 => {
				let settlements: Vec<Settlement> = REQUESTERS
					.iter()
					.filter(|seed| Channels::<Test>::contains_key(account(seed), &executor))
					.map(|seed| random_run(&mut rng, &w, seed, &executor))
					.collect();
				if !settlements.is_empty() {
					let replay = settlements.clone();
					if ChannelsPallet::settle(signed(&executor), settlements).is_ok() {
						// The same runs never settle twice.
						assert_eq!(
							ChannelsPallet::settle(signed(&executor), replay),
							Err(crate::Error::<Test>::TicketReplayed.into())
						);
					}
				}
			},
			5 | 6 => {
				let checks: Vec<(u64, AccountId)> =
					DirectChecks::<Test>::iter().map(|(id, check)| (id, check.validator)).collect();
				if !checks.is_empty() {
					let (id, validator) = checks[rng.below(checks.len() as u64) as usize].clone();
					let valid = rng.below(4) != 0;
					let verdict = vec![(codec::Compact(id), valid)];
					assert_eq!(
						ChannelsPallet::submit_direct_validations(signed(&validator), verdict),
						Ok(())
					);
				}
			},
			7 => run_to(System::block_number() + 1 + rng.below(8) as u32),
			8 => {
				let _ = ChannelsPallet::close_channel(signed(&requester), executor);
			},
			_ => {
				let _ = ChannelsPallet::withdraw(signed(&requester), executor);
			},
		}
		assert_invariants();
		// Nonces only move forward.
		for (requester, executor, channel) in Channels::<Test>::iter() {
			let last = settled_nonces.entry((requester, executor)).or_default();
			assert!(channel.nonce >= *last || channel.nonce == 0, "a nonce went back");
			*last = channel.nonce;
		}
	}
	// Every check ends by its deadline.
	run_to(System::block_number() + VALIDATION_PERIOD + 1);
	assert_eq!(DirectChecks::<Test>::iter().count(), 0);
	assert_invariants();
	let mut settled = BTreeMap::<u64, u32>::new();
	let mut ended = BTreeMap::<u64, u32>::new();
	for event in channel_events() {
		match event {
			Event::DirectSettled { direct_id, .. } => *settled.entry(direct_id).or_default() += 1,
			Event::DirectPaid { direct_id, .. }
			| Event::DirectValidationFailed { direct_id, .. } => {
				assert!(settled.contains_key(&direct_id), "an end before its settlement");
				*ended.entry(direct_id).or_default() += 1
			},
			_ => {},
		}
	}
	assert!(settled.len() > 20, "the sequence settled too little: {}", settled.len());
	assert!(settled.values().all(|n| *n == 1));
	assert_eq!(settled.keys().collect::<Vec<_>>(), ended.keys().collect::<Vec<_>>());
	assert!(ended.values().all(|n| *n == 1), "a result ended twice");
}
