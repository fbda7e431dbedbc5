//! The calls' weights are the spec's formulas (devnode charges the same).

use super::*;
use crate::{weights::WeightInfo, Call};
use frame_support::{dispatch::GetDispatchInfo, weights::Weight};

fn weight_of(call: Call<Test>) -> Weight {
	call.get_dispatch_info().call_weight
}

#[test]
fn request_charges_per_input_byte_and_per_possible_provider() {
	let providers = 5_000_000 * u64::from(MAX_PROVIDERS_PER_MODEL);
	let request = |input| Call::<Test>::request {
		model_id: H256::zero(),
		input,
		prompt_tokens: 1,
		max_tokens: 1,
		max_price_per_1k_tokens: 1,
		deadline_blocks: 2,
	};
	assert_eq!(
		weight_of(request(inline(&[0; 1000]))),
		Weight::from_parts(150_000_000 + 2_000 * 1000 + providers, 5_000)
	);
	assert_eq!(
		weight_of(request(InferenceInput::Cid(cid_of(1)))),
		Weight::from_parts(150_000_000 + 2_000 * cid_of(1).len() as u64 + providers, 5_000)
	);
	// A sealed input: payload, 32 + wrap length per wrap, 64 for commitment and output key.
	let input = sealed(1, &[P1, P2]);
	let bytes = input.payload.len() as u64 + 2 * (32 + 80) + 64;
	assert_eq!(
		weight_of(request(InferenceInput::SealedCid(input))),
		Weight::from_parts(150_000_000 + 2_000 * bytes + providers, 5_000)
	);
}

#[test]
fn the_fixed_and_per_byte_weights() {
	let fixed = |call, ref_time| assert_eq!(weight_of(call), Weight::from_parts(ref_time, 5_000));
	fixed(
		Call::submit_result {
			request_id: 0,
			output_hash: H256::zero(),
			output_cid: None,
			prompt_tokens: 0,
			completion_tokens: 0,
		},
		150_000_000,
	);
	fixed(Call::submit_validation { request_id: 0, valid: true }, 120_000_000);
	fixed(Call::request_output { request_id: 0 }, 40_000_000);
	fixed(Call::provide_output { request_id: 0, output: vec![0; 100] }, 60_000_000 + 200_000);
	fixed(Call::expire { request_id: 0 }, 80_000_000);
	fixed(Call::decline { request_id: 0 }, 60_000_000);
	assert_eq!(
		<() as WeightInfo>::on_initialize(2),
		Weight::from_parts(25_000_000 + 2 * 80_000_000, 2 * 5_000)
	);
}
