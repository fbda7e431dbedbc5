//! The protocol's draws: the executor at `r("infer/assign") mod Σ weight` over the cumulative
//! weights in list order, validation iff `r("infer/validate") mod 10^6 < 10^6 - 9_900 ×
//! reputation`, the validator by weight with `r("infer/validator")`; `r` over the parent hash
//! (ParentHashRandomness).

use super::*;
use crate::{pick_weighted, validation_probability_ppm, TAG_ASSIGN, TAG_VALIDATE, TAG_VALIDATOR};
use genai_primitives::protocol_random;

#[test]
fn the_sampling_probability() {
	assert_eq!(validation_probability_ppm(0), 1_000_000);
	assert_eq!(validation_probability_ppm(50), 505_000);
	assert_eq!(validation_probability_ppm(100), 10_000);
}

#[test]
fn weighted_picks_walk_the_cumulative_weights() {
	let candidates = [(1u64, 10u128), (2, 20), (3, 30)];
	assert_eq!(pick_weighted(&candidates, 0), Some(1));
	assert_eq!(pick_weighted(&candidates, 9), Some(1));
	assert_eq!(pick_weighted(&candidates, 10), Some(2));
	assert_eq!(pick_weighted(&candidates, 29), Some(2));
	assert_eq!(pick_weighted(&candidates, 30), Some(3));
	assert_eq!(pick_weighted(&candidates, 59), Some(3));
	assert_eq!(pick_weighted(&candidates, 60), Some(1));
	assert_eq!(pick_weighted::<u64>(&[], 5), None);
}

#[test]
fn the_seed_is_the_parent_hash() {
	new_test_ext().execute_with(|| {
		set_parent_hash(H256::repeat_byte(0xab));
		let (seed, _) =
			<<Test as crate::Config>::Randomness as frame_support::traits::Randomness<
				H256,
				BlockNumber,
			>>::random_seed();
		assert_eq!(seed, H256::repeat_byte(0xab));
	});
}

#[test]
fn executors_are_drawn_by_weight() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		// Weights 1000, 2000 and 3000 (stake / 10^12 × 10), in registration order.
		provider_with(P1, vec![model_id], MIN_STAKE, 1024, None);
		provider_with(P2, vec![model_id], 2 * MIN_STAKE, 1024, None);
		provider_with(P3, vec![model_id], 3 * MIN_STAKE, 1024, None);
		let mut seen = BTreeMap::new();
		for i in 0..60u64 {
			let seed = H256::from_low_u64_be(i);
			set_parent_hash(seed);
			let id = NextRequestId::<Test>::get();
			let point = protocol_random(TAG_ASSIGN, &seed, id) % 6_000;
			let expected = match point {
				0..1_000 => P1,
				1_000..3_000 => P2,
				_ => P3,
			};
			let id = request(model_id);
			assert_eq!(req(id).executor, expected);
			*seen.entry(expected).or_insert(0) += 1;
		}
		assert_eq!(seen.len(), 3);
		check_invariants();
	});
}

/// The model's providers and their weights, in `ModelProviders` order.
fn weights(model_id: ModelId) -> Vec<(AccountId, u128)> {
	pallet_providers::ModelProviders::<Test>::get(model_id)
		.into_iter()
		.map(|who| (who, pallet_providers::Providers::<Test>::get(who).unwrap().weight))
		.collect()
}

#[test]
fn validation_is_sampled_by_reputation_and_the_validator_drawn_by_weight() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider_with(P1, vec![model_id], MIN_STAKE, 1024, None);
		provider_with(P2, vec![model_id], MIN_STAKE, 1024, None);
		provider_with(P3, vec![model_id], 3 * MIN_STAKE, 1024, None);
		for who in [P1, P2, P3] {
			set_reputation(who, 60);
		}
		assert_eq!(weights(model_id), vec![(P1, 7_000), (P2, 7_000), (P3, 21_000)]);
		let (mut sampled, mut validators) = (0, BTreeMap::new());
		for i in 0..60u64 {
			let seed = H256::from_low_u64_be(i);
			set_parent_hash(seed);
			let id = NextRequestId::<Test>::get();
			let executor =
				pick_weighted(&weights(model_id), protocol_random(TAG_ASSIGN, &seed, id)).unwrap();
			assert_eq!(request(model_id), id);
			assert_eq!(req(id).executor, executor);
			let seed = H256::from_low_u64_be(1_000 + i);
			set_parent_hash(seed);
			let drawn = protocol_random(TAG_VALIDATE, &seed, id) % 1_000_000
				< validation_probability_ppm(60);
			let others: Vec<(AccountId, u128)> =
				weights(model_id).into_iter().filter(|(who, _)| *who != executor).collect();
			assert_ok!(submit(id, b"o", 1, 1));
			if drawn {
				sampled += 1;
				let validator =
					pick_weighted(&others, protocol_random(TAG_VALIDATOR, &seed, id)).unwrap();
				assert_eq!(validator_of(id), validator);
				*validators.entry(validator).or_insert(0) += 1;
				// Settled at the validation deadline: no reputation change.
				run_to(System::block_number() + VALIDATION_PERIOD + 1);
				assert!(matches!(req(id).state, RequestState::Completed { .. }));
			} else {
				assert!(matches!(req(id).state, RequestState::Completed { .. }));
			}
		}
		assert!(sampled > 5 && sampled < 55, "sampled {sampled} of 60");
		assert_eq!(validators.len(), 3);
		check_invariants();
	});
}
