//! The genai-runtime wasm blob, built by this crate's build script (docs/runtime.md).
//!
//! `WASM_BINARY` is the compressed, compacted blob (`None` under `SKIP_WASM_BUILD`) and
//! `WASM_BINARY_BLOATED` the linker's output; the files themselves are in
//! `$CARGO_TARGET_DIR/<profile>/wbuild/genai-runtime/`.

include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));
