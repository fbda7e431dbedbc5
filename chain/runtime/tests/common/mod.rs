//! What the runtime's integration tests share: the development genesis as `make-spec.mjs`
//! builds it.

use frame_support::genesis_builder_helper::{build_state, get_preset};
use genai_runtime::RuntimeGenesisConfig;
use serde_json::Value;

/// chain-spec-builder's merge: objects key by key, anything else replaced.
fn merge(base: &mut Value, patch: Value) {
	match (base, patch) {
		(Value::Object(base), Value::Object(patch)) => {
			for (key, value) in patch {
				merge(base.entry(key).or_insert(Value::Null), value);
			}
		},
		(base, patch) => *base = patch,
	}
}

/// The storage `make-spec.mjs` builds: the default config merged with the development preset,
/// then `build_state`, at block 0.
pub fn development() -> sp_io::TestExternalities {
	let default = get_preset::<RuntimeGenesisConfig>(&None, |_| None).expect("a default config");
	let patch = get_preset::<RuntimeGenesisConfig>(
		&Some(sp_genesis_builder::DEV_RUNTIME_PRESET.into()),
		genai_runtime::genesis::get_preset,
	)
	.expect("a development preset");
	let mut config: Value = serde_json::from_slice(&default).unwrap();
	merge(&mut config, serde_json::from_slice(&patch).unwrap());
	let mut ext = sp_io::TestExternalities::default();
	ext.execute_with(|| {
		build_state::<RuntimeGenesisConfig>(serde_json::to_vec(&config).unwrap()).unwrap()
	});
	ext
}
