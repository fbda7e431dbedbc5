//! Whole lifecycles with the invariants checked after every step, and a long mixed run of
//! requests, results, validations, output requests, declines and deadlines.

use super::*;
use crate::Timeouts;

fn step(result: DispatchResult) {
	assert_ok!(result);
	check_invariants();
}

#[test]
fn every_ending_once() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		provider(P1, model_id);
		provider(P2, model_id);
		// Paid after a passed validation.
		let paid = request(model_id);
		step(submit(paid, b"a", 5, 5));
		step(Inference::submit_validation(signed(validator_of(paid)), paid, true));
		// Rejected by the validator.
		let rejected = request(model_id);
		step(submit(rejected, b"b", 5, 5));
		step(Inference::submit_validation(signed(validator_of(rejected)), rejected, false));
		// Output requested and never provided.
		let withheld = request(model_id);
		step(submit(withheld, b"c", 5, 5));
		step(Inference::request_output(signed(validator_of(withheld)), withheld));
		// Output requested and provided, then passed.
		let provided = request(model_id);
		step(submit(provided, b"d", 5, 5));
		step(Inference::request_output(signed(validator_of(provided)), provided));
		step(Inference::provide_output(signed(req(provided).executor), provided, b"d".to_vec()));
		// Declined, and expired.
		let declined = request(model_id);
		step(Inference::decline(signed(req(declined).executor), declined));
		let expired = request(model_id);
		run_to(40);
		check_invariants();
		assert_eq!(req(paid).state, RequestState::Completed { cost: 10_000 });
		assert_eq!(req(rejected).state, RequestState::Rejected);
		assert_eq!(req(withheld).state, RequestState::Rejected);
		assert_eq!(req(provided).state, RequestState::Completed { cost: 10_000 });
		assert_eq!(req(declined).state, RequestState::Declined);
		assert_eq!(req(expired).state, RequestState::Expired);
		assert_eq!(reserved(BOB, INFER), 0);
	});
}

/// A small deterministic generator (the test must not depend on a crate).
struct Lcg(u64);
impl Lcg {
	fn next(&mut self, below: u64) -> u64 {
		self.0 =
			self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
		(self.0 >> 33) % below
	}
}

#[test]
fn a_long_mixed_run_keeps_the_invariants() {
	new_test_ext().execute_with(|| {
		let model_id = model();
		let cheap = register_model(ALICE, 1, 7, USDD, Permill::from_parts(123_456));
		for (i, who) in [P1, P2, P3].into_iter().enumerate() {
			provider_with(who, vec![model_id, cheap], (i as u128 + 1) * MIN_STAKE, 4, Some(KEY));
		}
		let requesters = [BOB, CHARLIE, FIRST_EXTRA];
		let mut rng = Lcg(7);
		let mut commitment = 0u8;
		for round in 0..300u32 {
			set_parent_hash(H256::from_low_u64_be(u64::from(round)));
			match rng.next(8) {
				0 | 1 => {
					let who = requesters[rng.next(3) as usize];
					let target = if rng.next(2) == 0 { model_id } else { cheap };
					let input = if rng.next(3) == 0 {
						commitment = commitment.wrapping_add(1);
						InferenceInput::SealedInline(sealed(commitment, &[P1, P2, P3]))
					} else {
						inline(b"prompt")
					};
					let _ = request_with(who, target, input, 7, 30, PRICE, 2 + rng.next(20) as u32);
				},
				choice => {
					// Act on some open request.
					let open: Vec<RequestId> = Requests::<Test>::iter()
						.filter(|(_, r)| !r.state.is_terminal())
						.map(|(id, _)| id)
						.collect();
					if open.is_empty() {
						run_to(System::block_number() + 1);
						check_invariants();
						continue;
					}
					let id = open[rng.next(open.len() as u64) as usize];
					let r = req(id);
					let _ = match (choice, r.state.clone()) {
						(2 | 3, RequestState::Assigned) => {
							submit(id, b"out", rng.next(10) as u32, rng.next(31) as u32)
						},
						(4, RequestState::Assigned) => Inference::decline(signed(r.executor), id),
						(2 | 3, RequestState::AwaitingValidation { validator, .. }) => {
							Inference::submit_validation(signed(validator), id, rng.next(4) != 0)
						},
						(4, RequestState::AwaitingValidation { validator, .. }) => {
							Inference::request_output(signed(validator), id)
						},
						(5, RequestState::AwaitingValidation { .. }) => {
							Inference::provide_output(signed(r.executor), id, b"out".to_vec())
						},
						_ => Inference::expire(signed(CHARLIE), id),
					};
					if choice >= 6 {
						run_to(System::block_number() + 1 + rng.next(5) as u32);
					}
				},
			}
			check_invariants();
		}
		// Everything ends by its deadlines.
		run_to(
			System::block_number() + MAX_DEADLINE + VALIDATION_PERIOD + OUTPUT_PROVIDE_PERIOD + 2,
		);
		check_invariants();
		assert!(Requests::<Test>::iter().all(|(_, r)| r.state.is_terminal()));
		assert!(BandwidthInUse::<Test>::iter().next().is_none());
		assert!(Timeouts::<Test>::iter().next().is_none());
		assert!(NextRequestId::<Test>::get() > 20);
	});
}
