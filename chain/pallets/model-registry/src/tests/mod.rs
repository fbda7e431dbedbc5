//! ModelRegistry tests, by topic. CIDs come from devnode's validator (`devnode/pallets/_cid.py`),
//! so both implementations accept and reject the same texts.

mod cid;
mod ownership;
mod register;
mod update;
mod views;

use crate::{mock::*, ModelId, ModelTask, Pallet, WeightFormat};
use frame_support::assert_ok;
use sp_runtime::Permill;

pub const CID_V0: &[u8] = b"QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNft";
pub const CID_V0_OTHER: &[u8] = b"QmSXDk2v6kPu4BXW7UE6BsE4rB3k7Y1yJ11a9owiH52Ti4";
pub const CID_V1: &[u8] = b"bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm";

pub fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// Alice registers `cid` as "tiny" (100 bytes, 10 INFER per 1k tokens, 5 % author share).
pub fn register(who: AccountId, cid: &[u8]) -> ModelId {
	assert_ok!(ModelRegistry::register_model(
		signed(who),
		cid.to_vec(),
		b"tiny".to_vec(),
		ModelTask::TextGeneration,
		WeightFormat::Safetensors,
		100,
		10,
		INFER,
		Permill::from_percent(5),
	));
	Pallet::<Test>::model_id_of(cid)
}

/// The pallet's events so far, oldest first.
pub fn registry_events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::ModelRegistry(event) => Some(event),
			_ => None,
		})
		.collect()
}
