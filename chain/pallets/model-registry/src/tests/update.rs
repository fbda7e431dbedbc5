//! `update_model`: a new version under the same id, every version kept.

use super::*;
use crate::{CidToModel, Error, ModelVersion, ModelVersions, Models};
use frame_support::assert_noop;

#[test]
fn appends_a_version_and_keeps_the_id() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		System::set_block_number(9);
		assert_ok!(ModelRegistry::update_model(signed(ALICE), model_id, CID_V1.to_vec(), 200));
		let info = Models::<Test>::get(model_id).unwrap();
		assert_eq!((info.version, info.cid.to_vec(), info.size_bytes), (2, CID_V1.to_vec(), 200));
		assert_eq!(info.registered_at, 1);
		assert_eq!(
			ModelVersions::<Test>::get(model_id, 1).map(|v| v.cid.to_vec()),
			Some(CID_V0.to_vec())
		);
		assert_eq!(
			ModelVersions::<Test>::get(model_id, 2),
			Some(ModelVersion {
				cid: CID_V1.to_vec().try_into().unwrap(),
				size_bytes: 200,
				registered_at: 9
			})
		);
		// Both CIDs map to the model, so neither can be registered again.
		assert_eq!(
			CidToModel::<Test>::get(crate::CidOf::<Test>::truncate_from(CID_V0.to_vec())),
			Some(model_id)
		);
		assert_eq!(
			CidToModel::<Test>::get(crate::CidOf::<Test>::truncate_from(CID_V1.to_vec())),
			Some(model_id)
		);
		assert_eq!(
			registry_events().last(),
			Some(&crate::Event::ModelUpdated { model_id, version: 2, cid: CID_V1.to_vec() })
		);
	});
}

#[test]
fn rejects_unknown_models_other_owners_and_deprecated_models() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), ModelId::repeat_byte(1), CID_V1.to_vec(), 1),
			Error::<Test>::UnknownModel
		);
		assert_noop!(
			ModelRegistry::update_model(signed(BOB), model_id, CID_V1.to_vec(), 1),
			Error::<Test>::NotOwner
		);
		assert_ok!(ModelRegistry::deprecate_model(signed(ALICE), model_id));
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), model_id, CID_V1.to_vec(), 1),
			Error::<Test>::ModelDeprecated
		);
	});
}

#[test]
fn checks_the_new_cid_then_the_size() {
	new_test_ext().execute_with(|| {
		let model_id = register(ALICE, CID_V0);
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), model_id, vec![b'b'; 129], 0),
			Error::<Test>::CidTooLong
		);
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), model_id, b"bafy".to_vec(), 0),
			Error::<Test>::InvalidCid
		);
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), model_id, CID_V0.to_vec(), 0),
			Error::<Test>::DuplicateCid
		);
		assert_noop!(
			ModelRegistry::update_model(signed(ALICE), model_id, CID_V1.to_vec(), 0),
			Error::<Test>::ZeroSize
		);
	});
}
