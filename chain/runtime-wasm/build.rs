//! Runs substrate-wasm-builder on `../runtime` (genai-runtime). The inner build's flags
//! (release profile, `--allow-undefined`, the wasm32v1-none sysroot) come from
//! scripts/chain-env.sh; `SKIP_WASM_BUILD=1` skips it (the blob is then empty).

use std::path::Path;

fn main() {
	let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
	let chain = Path::new(&manifest_dir).parent().expect("runtime-wasm lives in chain/");
	// The builder finds the project in `cargo metadata` by comparing manifest paths as given, so
	// the path must be canonical (no `..`).
	let runtime = chain.join("runtime/Cargo.toml").canonicalize().expect("chain/runtime exists");
	// The target directory is outside the clone (scripts/chain-env.sh), so the builder cannot find
	// chain/Cargo.lock by walking up from OUT_DIR; without it the inner build would resolve its
	// own, unpinned versions.
	if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
		std::env::set_var("WASM_BUILD_WORKSPACE_HINT", chain);
	}
	substrate_wasm_builder::WasmBuilder::new()
		.with_project(runtime)
		.expect("chain/runtime/Cargo.toml is a manifest")
		.build();
}
