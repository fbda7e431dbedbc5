//! `register_model`: the record, the first version, the CID index, the count, the event, and
//! every rule in the spec's order.

use super::*;
use crate::{
	CidToModel, Error, ModelCount, ModelInfo, ModelStatus, ModelVersion, ModelVersions, Models,
};
use frame_support::{assert_noop, BoundedVec};
use sp_runtime::DispatchError;

fn register_with(
	cid: &[u8],
	name: &[u8],
	size_bytes: u64,
	currency_id: CurrencyId,
) -> sp_runtime::DispatchResult {
	ModelRegistry::register_model(
		signed(ALICE),
		cid.to_vec(),
		name.to_vec(),
		ModelTask::Embedding,
		WeightFormat::Gguf,
		size_bytes,
		7,
		currency_id,
		Permill::from_parts(250_000),
	)
}

#[test]
fn stores_the_model_its_first_version_and_its_cid() {
	new_test_ext().execute_with(|| {
		System::set_block_number(5);
		assert_ok!(register_with(CID_V0, b"tiny", 100, USDD));
		let model_id = Pallet::<Test>::model_id_of(CID_V0);
		assert_eq!(model_id.0, sp_io::hashing::blake2_256(CID_V0));
		let cid: BoundedVec<u8, MaxCidLength> = CID_V0.to_vec().try_into().unwrap();
		assert_eq!(
			Models::<Test>::get(model_id),
			Some(ModelInfo {
				owner: ALICE,
				cid: cid.clone(),
				name: b"tiny".to_vec().try_into().unwrap(),
				task: ModelTask::Embedding,
				format: WeightFormat::Gguf,
				size_bytes: 100,
				price_per_1k_tokens: 7,
				currency_id: USDD,
				author_share: Permill::from_parts(250_000),
				version: 1,
				status: ModelStatus::Active,
				registered_at: 5,
			})
		);
		assert_eq!(
			ModelVersions::<Test>::get(model_id, 1),
			Some(ModelVersion { cid: cid.clone(), size_bytes: 100, registered_at: 5 })
		);
		assert_eq!(CidToModel::<Test>::get(&cid), Some(model_id));
		assert_eq!(ModelCount::<Test>::get(), 1);
		assert_eq!(
			registry_events(),
			vec![crate::Event::ModelRegistered { model_id, owner: ALICE, cid: CID_V0.to_vec() }]
		);
	});
}

#[test]
fn counts_every_model_and_accepts_cid_v1() {
	new_test_ext().execute_with(|| {
		register(ALICE, CID_V0);
		register(BOB, CID_V1);
		assert_eq!(ModelCount::<Test>::get(), 2);
		assert_eq!(Models::<Test>::get(Pallet::<Test>::model_id_of(CID_V1)).unwrap().owner, BOB);
	});
}

#[test]
fn needs_a_signed_origin() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ModelRegistry::register_model(
				RuntimeOrigin::root(),
				CID_V0.to_vec(),
				b"tiny".to_vec(),
				ModelTask::TextGeneration,
				WeightFormat::Safetensors,
				100,
				10,
				INFER,
				Permill::zero(),
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn rejects_bad_cids_too_long_before_invalid() {
	new_test_ext().execute_with(|| {
		let too_long = vec![b'!'; 129];
		assert_noop!(register_with(&too_long, b"tiny", 1, INFER), Error::<Test>::CidTooLong);
		let longest_invalid = vec![b'!'; 128];
		assert_noop!(register_with(&longest_invalid, b"tiny", 1, INFER), Error::<Test>::InvalidCid);
		assert_noop!(
			register_with(b"QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNf", b"tiny", 1, INFER),
			Error::<Test>::InvalidCid
		);
	});
}

#[test]
fn rejects_a_cid_registered_before() {
	new_test_ext().execute_with(|| {
		register(ALICE, CID_V0);
		assert_noop!(register_with(CID_V0, b"again", 1, INFER), Error::<Test>::DuplicateCid);
	});
}

#[test]
fn checks_the_name_size_and_currency_in_the_spec_order() {
	new_test_ext().execute_with(|| {
		assert_noop!(register_with(CID_V0, b"", 0, UNKNOWN_CURRENCY), Error::<Test>::EmptyName);
		assert_noop!(
			register_with(CID_V0, &[b'n'; 65], 0, UNKNOWN_CURRENCY),
			Error::<Test>::NameTooLong
		);
		assert_noop!(
			register_with(CID_V0, &[b'n'; 64], 0, UNKNOWN_CURRENCY),
			Error::<Test>::ZeroSize
		);
		assert_noop!(
			register_with(CID_V0, &[b'n'; 64], 1, UNKNOWN_CURRENCY),
			Error::<Test>::UnknownCurrency
		);
		assert_ok!(register_with(CID_V0, &[b'n'; 64], 1, INFER));
	});
}

#[test]
fn an_author_share_above_100_percent_does_not_decode() {
	use codec::Decode;
	// The spec's InvalidAuthorShare cannot be reached: the call is rejected while decoding.
	assert!(Permill::decode(&mut &1_000_001u32.to_le_bytes()[..]).is_err());
	assert_eq!(Permill::decode(&mut &1_000_000u32.to_le_bytes()[..]), Ok(Permill::one()));
}

#[test]
fn error_and_event_indices_are_the_spec_s() {
	use codec::Encode;
	let errors = [
		Error::<Test>::InvalidCid,
		Error::<Test>::CidTooLong,
		Error::<Test>::DuplicateCid,
		Error::<Test>::UnknownModel,
		Error::<Test>::NotOwner,
		Error::<Test>::ModelDeprecated,
		Error::<Test>::EmptyName,
		Error::<Test>::NameTooLong,
		Error::<Test>::InvalidAuthorShare,
		Error::<Test>::ZeroSize,
		Error::<Test>::UnknownCurrency,
	];
	for (index, error) in errors.iter().enumerate() {
		assert_eq!(error.encode(), vec![index as u8]);
	}
	let model_id = ModelId::repeat_byte(7);
	let events: [(crate::Event<Test>, u8); 5] = [
		(crate::Event::ModelRegistered { model_id, owner: ALICE, cid: vec![] }, 0),
		(crate::Event::ModelUpdated { model_id, version: 2, cid: vec![] }, 1),
		(crate::Event::PriceSet { model_id, price_per_1k_tokens: 1, currency_id: INFER }, 2),
		(crate::Event::ModelDeprecated { model_id }, 3),
		(crate::Event::OwnershipTransferred { model_id, from: ALICE, to: BOB }, 4),
	];
	for (event, index) in events {
		assert_eq!(event.encode()[0], index);
	}
}
