//! What must match devnode byte for byte: error and event indices, the genesis head, ticket
//! hashes and a signature made by devnode (`devnode.pallets.channels`, substrate-interface's
//! `Keypair` for `//Alice`), storage keys and the SCALE layouts of the records and call types.

use super::*;
use crate::{Channel, CheckTimeouts, DirectCheck, Error, Event, NextChannelId, NextDirectId};
use sp_runtime::{AccountId32, DispatchError, Permill};

fn h(text: &str) -> H256 {
	H256::from_slice(&hex(text))
}

fn hex(text: &str) -> Vec<u8> {
	(0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn error_index(error: Error<Test>) -> u8 {
	match DispatchError::from(error) {
		DispatchError::Module(module) => module.error[0],
		other => panic!("not a module error: {other:?}"),
	}
}

#[test]
fn error_indices_are_the_specs() {
	use Error::*;
	let errors = [
		ZeroAmount,
		NotProvider,
		SelfChannel,
		CurrencyMismatch,
		ChannelClosing,
		NoChannel,
		AlreadyClosing,
		NotClosing,
		StillClosing,
		ChecksPending,
		EmptySettlement,
		TooManyResults,
		TicketReplayed,
		TicketGap,
		TooManyModels,
		BadModelIndex,
		UnknownModel,
		TicketExpired,
		BadTicketSignature,
		ExpiryTooFar,
		PriceAboveMaximum,
		InvalidTokenCount,
		InsufficientDeposit,
		UnknownCheck,
		NotValidator,
		TooManyTimeouts,
	];
	for (index, error) in errors.into_iter().enumerate() {
		assert_eq!(error_index(error) as usize, index);
	}
}

#[test]
fn event_indices_are_the_specs() {
	let a = AccountId32::new([1; 32]);
	let events: [Event<Test>; 9] = [
		Event::ChannelFunded {
			requester: a.clone(),
			executor: a.clone(),
			channel_id: 0,
			amount: 1,
			deposit: 1,
		},
		Event::ChannelClosing { requester: a.clone(), executor: a.clone(), closes_at: 1 },
		Event::ChannelWithdrawn { requester: a.clone(), executor: a.clone(), amount: 1 },
		Event::DirectSettled {
			direct_id: 0,
			requester: a.clone(),
			executor: a.clone(),
			nonce: 1,
			model_id: H256::zero(),
			output_hash: H256::zero(),
			prompt_tokens: 1,
			completion_tokens: 1,
			cost: 1,
		},
		Event::DirectPaid { direct_id: 0, author: a.clone(), author_amount: 0, executor_amount: 1 },
		Event::DirectValidationRequested { direct_id: 0, validator: a.clone(), deadline: 1 },
		Event::DirectValidationPassed { direct_id: 0, validator: a.clone() },
		Event::DirectValidationFailed { direct_id: 0, validator: a.clone(), slashed: 1 },
		Event::TicketExpired { requester: a.clone(), executor: a, nonce: 1 },
	];
	for (index, event) in events.iter().enumerate() {
		assert_eq!(event.encode()[0] as usize, index, "{event:?}");
	}
	// A whole event's bytes, fields in the spec's order.
	assert_eq!(
		hex_of(&Event::<Test>::ChannelFunded {
			requester: AccountId32::new([1; 32]),
			executor: AccountId32::new([2; 32]),
			channel_id: 3,
			amount: 4,
			deposit: 5,
		}),
		format!(
			"00{}{}{}{}{}",
			"01".repeat(32),
			"02".repeat(32),
			"0300000000000000",
			"04000000000000000000000000000000",
			"05000000000000000000000000000000"
		)
	);
}

#[test]
fn genesis_head_and_ticket_hashes_match_devnode() {
	new_test_ext().execute_with(|| {
		let genesis = ChannelsPallet::channel_genesis(3);
		assert_eq!(genesis, h("27557c9fcd8d6264537df1ae6d4d68024e14ddfab87cec35a7a7bce90a289ab4"));
		let bob = account("Bob");
		let first = DirectResult {
			model_index: 0,
			prompt_hash: H256::repeat_byte(0x22),
			max_tokens: 50,
			max_price_per_1k_tokens: 1000,
			max_amount: 200,
			expiry: 42,
			output_hash: H256::zero(),
			prompt_tokens: 0,
			completion_tokens: 0,
		};
		let h1 = h("930c809686ede859ffc6671f719a7959c117bbed8a424cd1bf41dc1a05f253cd");
		let model1 = H256::repeat_byte(0x11);
		assert_eq!(ChannelsPallet::ticket_hash(&genesis, 3, &bob, &model1, &first, 200, 1), h1);
		assert_eq!(spec_ticket_hash(genesis, 3, &bob, model1, &first, 200, 1), h1);
		// Wide values: a price above u64, amounts above 2^64.
		let second = DirectResult {
			prompt_hash: H256::repeat_byte(0x44),
			max_tokens: 7,
			max_price_per_1k_tokens: (1u128 << 100) + 5,
			max_amount: 10u128.pow(20),
			expiry: 1000,
			..first
		};
		let h2 = h("0bcaec57b48e53d44738b9c932f1410d26b384f76e3460a00187129743f4f9e7");
		let model2 = H256::repeat_byte(0x33);
		let cumulative = 200 + 10u128.pow(20);
		assert_eq!(ChannelsPallet::ticket_hash(&h1, 3, &bob, &model2, &second, cumulative, 2), h2);
		assert_eq!(spec_ticket_hash(h1, 3, &bob, model2, &second, cumulative, 2), h2);
	});
}

#[test]
fn a_devnode_signature_verifies_and_nothing_else_does() {
	new_test_ext().execute_with(|| {
		let h2 = h("0bcaec57b48e53d44738b9c932f1410d26b384f76e3460a00187129743f4f9e7");
		let signature: [u8; 64] =
			hex("72e31e2e3d5c9a5574db3ae5b92b269dc9dc9206685a33d7d351695ea89c613e\
			 4eedb0eaf94952336bed9fae1315d78fa22ae08e95414b73cdfeada8f910978c")
			.try_into()
			.unwrap();
		let alice = account("Alice");
		assert_eq!(
			<AccountId32 as AsRef<[u8]>>::as_ref(&alice),
			&hex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")[..]
		);
		assert!(ChannelsPallet::verify_ticket(&alice, &h2, &signature));
		assert!(!ChannelsPallet::verify_ticket(&account("Bob"), &h2, &signature));
		let mut other = h2;
		other.0[0] ^= 1;
		assert!(!ChannelsPallet::verify_ticket(&alice, &other, &signature));
		let mut forged = signature;
		forged[10] ^= 1;
		assert!(!ChannelsPallet::verify_ticket(&alice, &h2, &forged));
		// Our own signatures over the same message verify too (sr25519 signs at random).
		assert!(ChannelsPallet::verify_ticket(&alice, &h2, &sign_ticket("Alice", h2)));
	});
}

#[test]
fn storage_keys_match_devnode() {
	new_test_ext().execute_with(|| {
		let (alice, bob) = (account("Alice"), account("Bob"));
		let prefix = "7759ccc18de172078306ca5973251a7b";
		assert_eq!(
			NextChannelId::<Test>::hashed_key().to_vec(),
			hex(&format!("{prefix}2d56750ffbaedbf3dd8dd3900c756381"))
		);
		assert_eq!(
			NextDirectId::<Test>::hashed_key().to_vec(),
			hex(&format!("{prefix}b6417a0aca61c92eff1a339383dadf7a"))
		);
		assert_eq!(
			Channels::<Test>::hashed_key_for(&alice, &bob),
			hex(&format!(
				"{prefix}{prefix}de1e86a9a8c739864cf3cc5ec2bea59f\
				 d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\
				 4f9aea1afa791265fae359272badc1cf\
				 8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"
			))
		);
		assert_eq!(
			DirectChecks::<Test>::hashed_key_for(7),
			hex(&format!(
				"{prefix}56a77b6620096309dc338242a2bfe69255e4fd6a40cd76080700000000000000"
			))
		);
		assert_eq!(
			CheckTimeouts::<Test>::hashed_key_for(21),
			hex(&format!("{prefix}ea896da170a1aa2c144ed4e5f8a3095574e76a9656c0445715000000"))
		);
	});
}

#[test]
fn records_and_call_types_encode_as_devnode() {
	let channel = |closing_at| Channel::<Test> {
		id: 3,
		currency_id: 1,
		deposit: 10u128.pow(15),
		held: 1234,
		nonce: 7,
		head: H256::repeat_byte(0x55),
		settled_cumulative: 999,
		closing_at,
	};
	let body =
		"0300000000000000010000000080c6a47e8d03000000000000000000d2040000000000000000000000000000\
		07000000000000005555555555555555555555555555555555555555555555555555555555555555\
		e7030000000000000000000000000000";
	assert_eq!(hex_of(&channel(Some(160))), format!("{body}01a0000000"));
	assert_eq!(hex_of(&channel(None)), format!("{body}00"));

	let result: Result_ = DirectResult {
		model_index: 1,
		prompt_hash: H256::repeat_byte(0x22),
		max_tokens: 50,
		max_price_per_1k_tokens: 1000,
		max_amount: 200,
		expiry: 42,
		output_hash: H256::repeat_byte(0x66),
		prompt_tokens: 10,
		completion_tokens: 40,
	};
	let result_hex = "04\
		2222222222222222222222222222222222222222222222222222222222222222c8a10f21032a000000\
		666666666666666666666666666666666666666666666666666666666666666628a0";
	assert_eq!(hex_of(&result), result_hex);
	let alice = account("Alice");
	let settlement = Settlement {
		requester: alice.clone(),
		first_nonce: 5,
		models: vec![H256::repeat_byte(0x11)],
		results: vec![result],
		signature: [0x77; 64],
	};
	assert_eq!(
		hex_of(&settlement),
		format!(
			"d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d1404{}04{}{}",
			"11".repeat(32),
			result_hex,
			"77".repeat(64)
		)
	);

	let check = DirectCheck::<Test> {
		requester: alice,
		executor: account("Bob"),
		validator: AccountId32::new([0x88; 32]),
		model_id: H256::repeat_byte(0x11),
		model_version: 2,
		author: AccountId32::new([0x99; 32]),
		author_share: Permill::from_parts(100_000),
		currency_id: 1,
		nonce: 5,
		ticket_hash: H256::repeat_byte(0xaa),
		prompt_hash: H256::repeat_byte(0x22),
		output_hash: H256::repeat_byte(0x66),
		max_tokens: 50,
		prompt_tokens: 10,
		completion_tokens: 40,
		cost: 50,
		deadline: 21,
	};
	assert_eq!(
		hex_of(&check),
		format!(
			"d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\
			 8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48\
			 {}{}02000000{}a0860100010000000500000000000000{}{}{}\
			 320000000a000000280000003200000000000000000000000000000015000000",
			"88".repeat(32),
			"11".repeat(32),
			"99".repeat(32),
			"aa".repeat(32),
			"22".repeat(32),
			"66".repeat(32)
		)
		.replace([' ', '\t'], "")
	);
}

#[test]
fn verdicts_encode_with_a_compact_id() {
	let verdicts: Vec<(codec::Compact<u64>, bool)> =
		vec![(codec::Compact(7), true), (70.into(), false)];
	// 2 verdicts; compact 7 (1 byte), true; compact 70 (2 bytes), false.
	assert_eq!(hex_of(&verdicts), "081c01190100");
}
