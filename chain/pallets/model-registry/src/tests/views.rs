//! The view functions (`model_of_cid`, `model_count`).

use super::*;

#[test]
fn model_of_cid_finds_every_version_s_cid() {
	new_test_ext().execute_with(|| {
		assert_eq!(Pallet::<Test>::model_count(), 0);
		assert_eq!(Pallet::<Test>::model_of_cid(CID_V0.to_vec()), None);
		let model_id = register(ALICE, CID_V0);
		assert_ok!(ModelRegistry::update_model(signed(ALICE), model_id, CID_V1.to_vec(), 5));
		register(BOB, CID_V0_OTHER);
		assert_eq!(Pallet::<Test>::model_of_cid(CID_V0.to_vec()), Some(model_id));
		assert_eq!(Pallet::<Test>::model_of_cid(CID_V1.to_vec()), Some(model_id));
		assert_eq!(Pallet::<Test>::model_count(), 2);
		// Longer than any stored CID: not found, no error.
		assert_eq!(Pallet::<Test>::model_of_cid(vec![b'b'; 500]), None);
	});
}
